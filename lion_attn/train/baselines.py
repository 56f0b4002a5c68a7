"""Reference baselines trained in the same run as the models they are compared with."""

from __future__ import annotations

import torch
from torch.utils.data import Dataset


def _stack(dataset: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    tensors = getattr(dataset, "tensors", None)
    if tensors is not None:
        return tensors[0].flatten(1), tensors[1]
    items = [dataset[i] for i in range(len(dataset))]
    return torch.stack([x for x, _ in items]).flatten(1), torch.tensor([int(y) for _, y in items])


def logistic_regression_accuracy(
    train: Dataset, test: Dataset, num_classes: int, weight_decay: float = 1e-4, iterations: int = 60
) -> float:
    """Fit multinomial logistic regression on raw inputs (full-batch L-BFGS) and return the test accuracy.

    Args:
        train: dataset of (input tensor, label) pairs.
        test: the same for evaluation.
        num_classes: number of classes.
        weight_decay: L2 penalty on the weights.
        iterations: L-BFGS iterations.

    Returns:
        Accuracy on ``test``, in [0, 1].
    """
    x, y = _stack(train)
    x_test, y_test = _stack(test)
    generator = torch.Generator().manual_seed(0)
    linear = torch.nn.Linear(x.shape[1], num_classes)
    with torch.no_grad():
        linear.weight.normal_(0.0, 0.01, generator=generator)
        linear.bias.zero_()
    optimizer = torch.optim.LBFGS(linear.parameters(), lr=1.0, max_iter=iterations, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = torch.nn.functional.cross_entropy(linear(x), y) + weight_decay * linear.weight.square().sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    with torch.no_grad():
        return float((linear(x_test).argmax(dim=1) == y_test).float().mean())

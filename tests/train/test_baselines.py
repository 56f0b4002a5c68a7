import torch
from torch.utils.data import TensorDataset

from lion_attn.train.baselines import logistic_regression_accuracy


def test_logistic_regression_separates_separable_classes_and_not_noise():
    gen = torch.Generator().manual_seed(0)
    centers = torch.randn(3, 20, generator=gen) * 4
    labels = torch.randint(0, 3, (600,), generator=gen)
    points = centers[labels] + torch.randn(600, 20, generator=gen)
    train, test = TensorDataset(points[:400], labels[:400]), TensorDataset(points[400:], labels[400:])
    assert logistic_regression_accuracy(train, test, num_classes=3) > 0.95
    shuffled = TensorDataset(points[400:], labels[400:][torch.randperm(200, generator=gen)])
    assert logistic_regression_accuracy(train, shuffled, num_classes=3) < 0.6

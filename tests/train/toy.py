"""A throwaway model and task for testing the trainer without the real models or data."""

from __future__ import annotations

import json
import time
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file
from torch import nn
from torch.utils.data import TensorDataset

from lion_attn.train.tasks.base import Task


class ToyNet(nn.Module):
    """Two-layer MLP with dropout (dropout makes the test sensitive to RNG restoration)."""

    def __init__(self, dim: int = 8, hidden: int = 16, classes: int = 3, dropout: float = 0.1) -> None:
        super().__init__()
        self.config = {"dim": dim, "hidden": hidden, "classes": classes, "dropout": dropout}
        self.net = nn.Sequential(nn.Linear(dim, hidden), nn.GELU(), nn.Dropout(dropout), nn.Linear(hidden, classes))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)

    def save_pretrained(self, path: str) -> None:
        Path(path, "config.json").write_text(json.dumps(self.config))
        save_file({k: v.contiguous() for k, v in self.state_dict().items()}, str(Path(path, "model.safetensors")))

    @classmethod
    def from_pretrained(cls, path: str) -> ToyNet:
        model = cls(**json.loads(Path(path, "config.json").read_text()))
        model.load_state_dict(load_file(str(Path(path, "model.safetensors"))))
        return model


def toy_data(n: int, seed: int) -> TensorDataset:
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(n, 8, generator=gen)
    w = torch.randn(8, 3, generator=torch.Generator().manual_seed(123))
    return TensorDataset(x, (x @ w).argmax(-1))


class ToyTask(Task):
    name = "toy"
    metric = "accuracy"

    def __init__(
        self, n_train: int = 256, n_eval: int = 64, hidden: int = 16, dropout: float = 0.1, sleep: float = 0.0
    ) -> None:
        self.train_dataset = toy_data(n_train, 1)
        self.eval_dataset = toy_data(n_eval, 2)
        self.hidden, self.dropout, self.sleep = hidden, dropout, sleep

    def build_model(self) -> nn.Module:
        return ToyNet(hidden=self.hidden, dropout=self.dropout)

    def load_model(self, folder: Path) -> nn.Module:
        return ToyNet.from_pretrained(str(folder))

    def collate(self, items):
        xs, ys = zip(*items, strict=True)
        return {"x": torch.stack(xs), "y": torch.stack(ys)}

    def train_loss(self, model, batch):
        if self.sleep:
            time.sleep(self.sleep)
        return nn.functional.cross_entropy(model(batch["x"]), batch["y"])

    def eval_sums(self, model, batch):
        logits = model(batch["x"])
        loss = nn.functional.cross_entropy(logits.float(), batch["y"], reduction="sum")
        return {
            "correct": (logits.argmax(-1) == batch["y"]).sum().item(),
            "count": len(batch["y"]),
            "loss_sum": loss.item(),
        }

    def predictions(self, model, batch):
        return model(batch["x"]).argmax(-1)


def main() -> None:
    """Run the trainer on the toy task: ``python toy.py '{"config": {...}, "task": {...}}'`` (used under torchrun)."""
    import logging
    import sys

    from lion_attn.train.config import TrainConfig
    from lion_attn.train.distributed import cleanup, init_distributed
    from lion_attn.train.loop import Trainer

    logging.basicConfig(level=logging.INFO)
    spec = json.loads(sys.argv[1])
    info = init_distributed()
    result = Trainer(TrainConfig(**spec["config"]), ToyTask(**spec.get("task", {})), info).fit()
    cleanup()
    sys.exit(128 + result.signum if result.status == "signal" and result.signum else 0)


if __name__ == "__main__":
    main()

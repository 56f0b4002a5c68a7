"""Image classification: an image folder (``DIR/{train,val}/<class>/*.png|jpg``) or the built-in Fashion-MNIST."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, TensorDataset

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import Task, create_model, model_config_dict

logger = logging.getLogger(__name__)

FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


def subset(dataset: Dataset, limit: int, seed: int) -> Dataset:
    """A seeded random subset of ``limit`` items (the whole set if ``limit`` is 0 or larger than it)."""
    n = len(dataset)
    if not limit or limit >= n:
        return dataset
    gen = torch.Generator().manual_seed(seed + 7)
    idx = torch.randperm(n, generator=gen)[:limit].sort().values.tolist()
    return torch.utils.data.Subset(dataset, idx)


class ImageTask(Task):
    """Image classification with a ViT-style model (``forward(images [B, C, H, W]) -> logits [B, classes]``)."""

    name = "image"
    metric = "accuracy"
    defaults: ClassVar[dict[str, Any]] = {
        "model": "lion_snat_vit_mini_patch7_28",
        "epochs": 5,
        "batch_size": 128,
        "lr": 1e-3,
        "weight_decay": 0.05,
    }
    arg_defaults: ClassVar[dict[str, Any]] = {
        "data": "",
        "fashion_mnist": "",
        "image_size": 0,
        "patch_size": 0,
        "channels": 0,
        "fit": "resize",
        "on_bad_image": "skip",
        "train_limit": 0,
        "val_limit": 0,
        "flip": False,
        "model_args": {},
        "eval_data": "",
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument(
            "--data",
            default=s,
            help="image folder with train/<class>/* and val/<class>/* (default: the built-in Fashion-MNIST)",
        )
        p.add_argument(
            "--fashion-mnist",
            default=s,
            metavar="DIR",
            help="folder with the Fashion-MNIST IDX files (default: search the usual places)",
        )
        p.add_argument("--image-size", type=int, default=s, help="input size (default: the preset's)")
        p.add_argument("--patch-size", type=int, default=s, help="patch size (default: the preset's)")
        p.add_argument("--channels", type=int, choices=(1, 3), default=s, help="1 grey or 3 RGB (folders)")
        p.add_argument("--fit", choices=("resize", "pad"), default=s, help="fit folder images by resize or pad")
        p.add_argument(
            "--on-bad-image",
            choices=("skip", "fail"),
            default=s,
            help="unreadable images: skip with a warning and a count, or fail naming the file",
        )
        p.add_argument("--train-limit", type=int, default=s, help="use a seeded subset of N training images")
        p.add_argument("--val-limit", type=int, default=s, help="use a seeded subset of N evaluation images")
        p.add_argument("--flip", action="store_true", default=s, help="random horizontal flips (seeded per step)")

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        self.config = config
        a = {**self.arg_defaults, **config.task_args}
        self.args = a
        self.label_names: list[str] = []
        if for_eval and a["eval_data"] and a.get("label_names"):
            self._eval_only_folder(Path(a["eval_data"]))
        elif a["data"]:
            self._from_folder(Path(a["data"]).expanduser(), for_eval)
        else:
            self._from_fashion_mnist(for_eval)
        self.eval_dataset = subset(self.eval_dataset, a["val_limit"], config.seed + 1)
        if not for_eval:
            self.train_dataset = subset(self.train_dataset, a["train_limit"], config.seed)

    def _model_overrides(self) -> dict[str, Any]:
        a = self.args
        over: dict[str, Any] = {"num_classes": len(self.label_names), "in_chans": self.channels, **a["model_args"]}
        over["img_size"] = self.image_size
        if a["patch_size"]:
            over["patch_size"] = a["patch_size"]
        return over

    def _from_fashion_mnist(self, for_eval: bool) -> None:
        from lion_attn.data import FASHION_MNIST_CLASSES, load_fashion_mnist

        root = self.args["fashion_mnist"] or None
        self.label_names = list(FASHION_MNIST_CLASSES)
        self.channels, self.image_size = 1, self.args["image_size"] or 28
        if self.image_size != 28:
            raise ValueError("--image-size must be 28 for Fashion-MNIST (use an image folder for other sizes)")

        def tensors(split: str) -> TensorDataset:
            images, labels = load_fashion_mnist(split, root)
            x = (torch.from_numpy(images).float().div_(255.0) - FMNIST_MEAN) / FMNIST_STD
            return TensorDataset(x.unsqueeze(1), torch.from_numpy(np.asarray(labels, dtype=np.int64)))

        self.eval_dataset = tensors("test")
        if not for_eval:
            self.train_dataset = tensors("train")
        self.source = "Fashion-MNIST"

    def _from_folder(self, root: Path, for_eval: bool) -> None:
        from lion_attn.data import ImageFolder

        if not root.is_dir():
            raise ValueError(f"--data {root} does not exist or is not a directory")
        for split in ("train", "val"):
            if not (root / split).is_dir():
                raise ValueError(
                    f"--data {root} must contain {split}/<class>/<image> folders; {root / split} is missing"
                )
        a = self.args
        self.channels = a["channels"] or 3
        self.image_size = a["image_size"] or 32
        kw = {
            "image_size": self.image_size,
            "channels": self.channels,
            "fit": a["fit"],
            "on_error": a["on_bad_image"],
            "mean": [0.5] * self.channels,
            "std": [0.5] * self.channels,
            "cache": True,
        }
        label_names = a.get("label_names")
        if not for_eval or not label_names:
            train = ImageFolder(root / "train", **kw)
            label_names = train.class_names
            if not for_eval:
                self.train_dataset = train
        self.label_names = list(label_names)
        self.eval_dataset = ImageFolder(root / "val", class_names=self.label_names, **kw)
        self.source = str(root)

    def _eval_only_folder(self, root: Path) -> None:
        """``lion eval --data``: a folder of ``<class>/*`` images (or one with a ``val/`` inside)."""
        from lion_attn.data import ImageFolder

        a = self.args
        root = root / "val" if (root / "val").is_dir() else root
        self.label_names = list(a["label_names"])
        self.channels, self.image_size = a["channels"] or 1, a["image_size"] or 28
        fmnist = not a["data"]
        mean, std = (FMNIST_MEAN, FMNIST_STD) if fmnist else (0.5, 0.5)
        self.eval_dataset = ImageFolder(
            root,
            image_size=self.image_size,
            channels=self.channels,
            fit=a["fit"],
            on_error=a["on_bad_image"],
            class_names=self.label_names,
            mean=[mean] * self.channels,
            std=[std] * self.channels,
        )
        self.source = str(root)

    def build_model(self) -> nn.Module:
        return create_model(self.config.model, **self._model_overrides())

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        xs, ys = zip(*items, strict=True)
        return {"images": torch.stack(xs), "labels": torch.as_tensor(ys, dtype=torch.long)}

    def prepare_batch(self, batch: dict[str, torch.Tensor], step: int, seed: int) -> dict[str, torch.Tensor]:
        if not self.args["flip"]:
            return batch
        gen = torch.Generator().manual_seed(seed * 1_000_003 + step)
        flip = torch.rand(batch["images"].shape[0], generator=gen) < 0.5
        images = batch["images"].clone()
        images[flip] = images[flip].flip(-1)
        return {**batch, "images": images}

    def train_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(model(batch["images"]).float(), batch["labels"])

    def eval_sums(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        logits = model(batch["images"]).float()
        loss = nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
        correct = (logits.argmax(-1) == batch["labels"]).sum()
        return {"correct": float(correct), "count": float(batch["labels"].numel()), "loss_sum": float(loss)}

    def predictions(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return model(batch["images"]).argmax(-1)

    def state_dict(self) -> dict[str, Any]:
        return {"label_names": self.label_names, "image_size": self.image_size, "channels": self.channels}

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        return (
            f"image ({self.source}, {len(self.label_names)} classes, {self.image_size}px): "
            f"{n_train} training / {len(self.eval_dataset)} evaluation images"
        )

    def check_model(self, model: nn.Module) -> None:
        """Refuse a model that is not an image classifier of this task's shape."""
        cfg = model_config_dict(model)
        n = cfg.get("num_classes")
        if n is not None and n != len(self.label_names):
            raise ValueError(f"the checkpoint's model predicts {n} classes, the data has {len(self.label_names)}")

"""Long Range Arena analogues: ListOps (generated in-process, deterministic by seed) and pixel-sequence images
(Fashion-MNIST as sequences of 784 pixels, or 1024 when padded to 32x32), as in Tay et al. (ICLR 2021)."""

from __future__ import annotations

import argparse
from typing import Any, ClassVar

from torch import nn

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import create_model
from lion_attn.train.tasks.image import subset
from lion_attn.train.tasks.sequence import SequenceClassificationTask, TokenDataset

# Pixel value v becomes token v + PIXEL_OFFSET, so id 0 stays the padding id of the LRA models.
PIXEL_OFFSET = 4


class LRATask(SequenceClassificationTask):
    """``lion train lra --task listops|image``."""

    name = "lra"
    metric = "accuracy"
    defaults: ClassVar[dict[str, Any]] = {"model": "", "epochs": 3, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.01}
    arg_defaults: ClassVar[dict[str, Any]] = {
        "task": "listops",
        "num_train": 2000,
        "num_eval": 500,
        "min_length": 100,
        "max_length": 256,
        "max_depth": 10,
        "max_args": 10,
        "pad_to": 0,
        "fashion_mnist": "",
        "train_limit": 0,
        "val_limit": 0,
        "model_args": {},
        "eval_data": "",
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument("--task", choices=("listops", "image"), default=s, help="which LRA task (default listops)")
        p.add_argument("--num-train", type=int, default=s, help="ListOps: generated training examples")
        p.add_argument("--num-eval", type=int, default=s, help="ListOps: generated evaluation examples")
        p.add_argument("--min-length", type=int, default=s, help="ListOps: shortest expression (tokens)")
        p.add_argument("--max-length", type=int, default=s, help="ListOps: longest expression (tokens)")
        p.add_argument("--max-depth", type=int, default=s, help="ListOps: deepest nesting")
        p.add_argument("--max-args", type=int, default=s, help="ListOps: most arguments per operator")
        p.add_argument("--pad-to", type=int, default=s, help="image: 0 keeps 784 pixels, 1024 pads to 32x32")
        p.add_argument("--fashion-mnist", default=s, metavar="DIR", help="image: folder with the IDX files")
        p.add_argument("--train-limit", type=int, default=s, help="image: seeded subset of N training images")
        p.add_argument("--val-limit", type=int, default=s, help="seeded subset of N evaluation samples")

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        self.config = config
        a = {**self.arg_defaults, **config.task_args}
        self.args = a
        if not config.model:
            config.model = f"lion_s_lra_{a['task']}"
        if a["task"] == "listops":
            self._listops(for_eval)
        elif a["task"] == "image":
            self._image(for_eval)
        else:
            raise ValueError(f"--task must be 'listops' or 'image', got {a['task']!r}")
        self.eval_dataset = subset(self.eval_dataset, a["val_limit"], config.seed + 1)
        if not for_eval:
            self.train_dataset = subset(self.train_dataset, a["train_limit"], config.seed)

    def _listops(self, for_eval: bool) -> None:
        from lion_attn.data import LISTOPS_PAD_ID, encode_listops, generate_listops

        a = self.args
        for key in ("num_train", "num_eval"):
            if a[key] < 1:
                raise ValueError(f"--{key.replace('_', '-')} must be >= 1, got {a[key]}")
        gen = {
            "min_length": a["min_length"],
            "max_length": a["max_length"],
            "max_depth": a["max_depth"],
            "max_args": a["max_args"],
        }
        self.pad_id = LISTOPS_PAD_ID

        # Separate seeds for the two splits; the data depend on the run seed so --seed changes everything.
        def make(n: int, seed: int) -> TokenDataset:
            pairs = generate_listops(n, seed, **gen)
            return TokenDataset([encode_listops(t) for t, _ in pairs], [y for _, y in pairs])

        self.eval_dataset = make(a["num_eval"], 10_000 + self.config.seed)
        if not for_eval:
            self.train_dataset = make(a["num_train"], self.config.seed)
        self.max_len = a["max_length"] + 1
        self.num_classes = 10
        self.source = f"ListOps {a['min_length']}-{a['max_length']} tokens"

    def _image(self, for_eval: bool) -> None:
        from lion_attn.data import load_fashion_mnist, pixel_sequences

        a = self.args
        root = a["fashion_mnist"] or None
        pad_to = a["pad_to"] or None
        self.pad_id = 0

        def make(split: str, limit: int, seed: int) -> TokenDataset:
            images, labels = load_fashion_mnist(split, root)
            if limit and limit < len(labels):
                import numpy as np

                idx = np.sort(np.random.default_rng(seed).permutation(len(labels))[:limit])
                images, labels = images[idx], labels[idx]
            seqs = pixel_sequences(images, pad_to).astype("int64") + PIXEL_OFFSET
            return TokenDataset(list(seqs), labels.tolist())

        self.eval_dataset = make("test", a["val_limit"], self.config.seed + 1)
        if not for_eval:
            self.train_dataset = make("train", a["train_limit"], self.config.seed)
        self.max_len = pad_to or 784
        self.num_classes = 10
        self.source = f"Fashion-MNIST pixel sequences of {self.max_len}"

    def build_model(self) -> nn.Module:
        over = {"max_len": self.max_len, "num_classes": self.num_classes, **self.args["model_args"]}
        return create_model(self.config.model, **over)

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        return f"lra ({self.source}): {n_train} training / {len(self.eval_dataset)} evaluation sequences"

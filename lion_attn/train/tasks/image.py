"""Image classification: any image folder (``DIR/train/<class>/*``, optional ``val/`` and ``test/``, or just
``DIR/<class>/*``) or the built-in Fashion-MNIST, optionally with DeiT's training recipe.

Loaders deliver uint8 pixels; conversion, resizing to the model's size, augmentation and normalisation run on
the batch where the model runs (see :mod:`lion_attn.data.augment`). Model selection uses a validation split
(``val/``, or one carved from the training images with ``--val-fraction``); a test set is kept apart.
"""

from __future__ import annotations

import argparse
import logging
import os
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import torch
from torch import nn
from torch.utils.data import Dataset, Subset, TensorDataset

from lion_attn.data.augment import AugmentConfig, BatchAugment, soft_target_cross_entropy
from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import Task, add_limit_flags, create_model, model_config_dict
from lion_attn.train.tasks.image_data import choose_sizes, class_counts, open_folder, stratified_split
from lion_attn.train.tasks.image_recipe import DEIT_AUGMENT_ARGS, IMAGE_PRESETS, add_recipe_arguments, resolve_recipe

logger = logging.getLogger(__name__)

FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530


def subset(dataset: Dataset, limit: int, seed: int) -> Dataset:
    """A seeded random subset of ``limit`` items (the whole set if ``limit`` is 0 or larger than it)."""
    n = len(dataset)
    if not limit or limit >= n:
        return dataset
    gen = torch.Generator().manual_seed(seed + 7)
    idx = torch.randperm(n, generator=gen)[:limit].sort().values.tolist()
    return Subset(dataset, idx)


def _rank_and_world() -> tuple[int, int]:
    if torch.distributed.is_available() and torch.distributed.is_initialized():
        return torch.distributed.get_rank(), torch.distributed.get_world_size()
    return 0, 1


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
    #: ``--recipe deit``: DeiT's recipe (see :mod:`lion_attn.train.tasks.image_recipe`).
    presets: ClassVar[dict[str, dict[str, Any]]] = IMAGE_PRESETS
    path_args: ClassVar[tuple[str, ...]] = ("cache_dir",)
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
        "val_fraction": 0.1,
        "cache": "auto",
        "cache_dir": "",
        "cache_max_gb": 4.0,
        "flip": False,
        "model_args": {},
        "eval_data": "",
        # None means "not given": the recipe's value, else off (see image_recipe).
        **{key: None for key in DEIT_AUGMENT_ARGS},
        "recipe": "none",
        "lr_base": 0.0,
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument(
            "--data",
            default=s,
            help="image folder: DIR/train/<class>/* (optional val/ and test/) or DIR/<class>/* "
            "(default: the built-in Fashion-MNIST)",
        )
        p.add_argument(
            "--fashion-mnist",
            default=s,
            metavar="DIR",
            help="folder with the Fashion-MNIST IDX files (default: search the usual places)",
        )
        p.add_argument(
            "--image-size",
            type=int,
            default=s,
            help="input size (default: the preset's, or the nearest its patch divides)",
        )
        p.add_argument("--patch-size", type=int, default=s, help="patch size (default: the preset's)")
        p.add_argument("--channels", type=int, choices=(1, 3), default=s, help="1 grey or 3 RGB (default: detected)")
        p.add_argument("--fit", choices=("resize", "pad"), default=s, help="fit folder images by resize or pad")
        p.add_argument(
            "--on-bad-image",
            choices=("skip", "fail"),
            default=s,
            help="unreadable images: skip with a warning and a count, or fail naming the file",
        )
        add_limit_flags(p, "a seeded subset of N training images", "a seeded subset of N validation images")
        p.add_argument(
            "--val-fraction",
            type=float,
            default=s,
            help="share of each class's training images held out for validation when there is no val/ folder",
        )
        p.add_argument(
            "--cache",
            choices=("auto", "on", "off"),
            default=s,
            help="decode a folder once into a pre-resized uint8 cache on disk (auto: if it fits --cache-max-gb)",
        )
        p.add_argument("--cache-dir", default=s, help="where image caches live (default: <data home>/cache/images)")
        p.add_argument("--cache-max-gb", type=float, default=s, help="largest cache 'auto' builds")
        p.add_argument("--flip", action="store_true", default=s, help="random horizontal flips (seeded per step)")
        add_recipe_arguments(p)

    @classmethod
    def resolve_config(cls, merged: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
        """Apply ``--recipe`` and ``--lr-base`` to a fresh run's merged config (flags typed by the user win)."""
        return resolve_recipe(merged, explicit)

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        a = self.bind_args(config)
        self.label_names: list[str] = []
        self.image_size, self.patch_size, note = choose_sizes(config.model, a["image_size"], a["patch_size"])
        if note:
            logger.info("%s (model %s)", note, config.model)
        self.test_dataset: Dataset | None = None
        if for_eval and a["eval_data"] and a.get("label_names"):
            self._eval_only_folder(Path(a["eval_data"]))
        elif a["data"]:
            self._from_folder(Path(a["data"]).expanduser(), for_eval)
        else:
            self._from_fashion_mnist(for_eval)
        self.eval_dataset = subset(self.eval_dataset, a["val_limit"], config.seed + 1)
        if not for_eval:
            self.train_dataset = subset(self.train_dataset, a["train_limit"], config.seed)
        self.augment_config = self._augment_config()
        self.augment = BatchAugment(self.augment_config, len(self.label_names), self.mean, self.std)
        if not for_eval and self.augment_config.active:
            logger.info("augmentation: %s", self.augment_config)
        self.repeats = self._repeats()
        if not for_eval and self.repeats > 1:
            logger.info("repeated augmentation: each drawn image %d times per global batch", self.repeats)

    def _augment_config(self) -> AugmentConfig:
        a = self.args
        deit = AugmentConfig.deit() if a["recipe"] == "deit" else AugmentConfig()

        def pick(key: str, field: str) -> Any:
            return a[key] if a[key] is not None else getattr(deit, field)

        return AugmentConfig(
            random_resized_crop=pick("random_resized_crop", "random_resized_crop"),
            hflip=bool(a["flip"]) or pick("hflip", "hflip"),
            randaug_n=pick("randaug", "randaug_n"),
            randaug_m=pick("randaug_m", "randaug_m"),
            mixup=pick("mixup", "mixup"),
            cutmix=pick("cutmix", "cutmix"),
            smoothing=pick("smoothing", "smoothing"),
            erasing=pick("erasing", "erasing"),
        )

    def _repeats(self) -> int:
        given = self.args["repeated_aug"]
        if given is not None:
            return int(given)
        # DeiT repeats each image on 3 processes; in one process the copies would only shrink the epoch.
        return 3 if self.args["recipe"] == "deit" and _rank_and_world()[1] > 1 else 1

    def train_batch_sampler(self, batch_size: int, seed: int, rank: int, world_size: int) -> Any:
        """The training batch sampler: repeated augmentation when ``--repeated-aug`` > 1."""
        from lion_attn.train.repeated_aug import RepeatedAugSampler
        from lion_attn.train.sampler import ShardedBatchSampler

        num_samples = len(self.train_dataset)
        if self.repeats > 1:
            return RepeatedAugSampler(num_samples, batch_size, seed, rank, world_size, repeats=self.repeats)
        return ShardedBatchSampler(num_samples, batch_size, seed, rank, world_size)

    def _model_overrides(self) -> dict[str, Any]:
        a = self.args
        over: dict[str, Any] = {"num_classes": len(self.label_names), "in_chans": self.channels}
        over["img_size"], over["patch_size"] = self.image_size, self.patch_size
        drop_path = a["drop_path"] if a["drop_path"] is not None else (0.1 if a["recipe"] == "deit" else None)
        if drop_path is not None:
            over["drop_path_rate"] = drop_path
        return {**over, **a["model_args"]}

    def _from_fashion_mnist(self, for_eval: bool) -> None:
        from lion_attn.data import FASHION_MNIST_CLASSES, load_fashion_mnist

        root = self.args["fashion_mnist"] or None
        self.label_names = list(FASHION_MNIST_CLASSES)
        self.channels, self.mean, self.std = 1, [FMNIST_MEAN], [FMNIST_STD]

        def tensors(split: str) -> TensorDataset:
            images, labels = load_fashion_mnist(split, root)
            x = torch.from_numpy(np.ascontiguousarray(images)).unsqueeze(1)  # [N, 1, 28, 28] uint8
            return TensorDataset(x, torch.from_numpy(np.asarray(labels, dtype=np.int64)))

        self.test_dataset = tensors("test")
        self.source = "Fashion-MNIST"
        if for_eval:
            # `lion eval` reports a checkpoint on the held-out test set.
            self.eval_dataset = self.test_dataset
            return
        full = tensors("train")
        train_idx, val_idx = stratified_split(full.tensors[1].tolist(), self.args["val_fraction"], self.config.seed)
        x, y = full.tensors
        self.train_dataset = TensorDataset(x[train_idx], y[train_idx])
        self.eval_dataset = TensorDataset(x[val_idx], y[val_idx])
        logger.info(
            "Fashion-MNIST: %d training / %d validation images (%.0f%% of train, seeded) / %d test images",
            len(train_idx),
            len(val_idx),
            100 * self.args["val_fraction"],
            len(self.test_dataset),
        )

    def _open(self, root: Path, class_names: list[str] | None) -> Any:
        from lion_attn.data.paths import data_home

        a = self.args
        workers = self.config.num_workers or min(8, os.cpu_count() or 1)
        rank, world = _rank_and_world()
        # Under data parallelism rank 0 builds a missing cache while the others wait, then they read it.
        if world > 1 and rank != 0:
            torch.distributed.barrier()
        dataset = open_folder(
            root,
            self.image_size,
            self.channels,
            a["fit"],
            a["on_bad_image"],
            class_names,
            a["cache"],
            Path(a["cache_dir"] or data_home() / "cache" / "images"),
            a["cache_max_gb"],
            workers,
        )
        if world > 1 and rank == 0:
            torch.distributed.barrier()
        return dataset

    def _from_folder(self, root: Path, for_eval: bool) -> None:
        from lion_attn.data.image_folder import detect_channels, list_images

        if not root.is_dir():
            raise ValueError(f"--data {root} does not exist or is not a directory")
        train_root = root / "train" if (root / "train").is_dir() else root
        if train_root == root and (root / "val").is_dir():
            raise ValueError(f"--data {root} has val/ but no train/ folder (expected train/<class>/<image>)")
        a = self.args
        _, listed = list_images(train_root)
        if not listed:
            raise ValueError(f"--data {train_root} holds no images with extensions .png, .jpg, .jpeg")
        step = max(1, len(listed) // 64)
        self.channels = a["channels"] or detect_channels([p for p, _ in listed[::step]])
        self.mean, self.std = [0.5] * self.channels, [0.5] * self.channels
        label_names = a.get("label_names") if for_eval else None
        train = self._open(train_root, label_names)
        # Decoding on the fly: loader workers do it in parallel.
        if getattr(train, "lazy", False) and not self.config.num_workers:
            self.config.num_workers = min(8, os.cpu_count() or 1)
            logger.info("decoding images in %d loader workers (--num-workers)", self.config.num_workers)
        self.label_names = list(train.class_names)
        if (root / "val").is_dir() and train_root != root:
            self.eval_dataset = self._open(root / "val", self.label_names)
            train_part, how = train, "val/"
        else:
            tr, va = stratified_split(train.targets, a["val_fraction"], self.config.seed)
            train_part, self.eval_dataset = Subset(train, tr), Subset(train, va)
            how = f"{100 * a['val_fraction']:.0f}% of train/, seeded"
        if (root / "test").is_dir() and train_root != root:
            self.test_dataset = self._open(root / "test", self.label_names)
        if not for_eval:
            self.train_dataset = train_part
            targets = (
                [train.targets[i] for i in train_part.indices] if isinstance(train_part, Subset) else train.targets
            )
            logger.info(
                "%s: %s; %s, %d validation images (%s)%s",
                root,
                "grey" if self.channels == 1 else "RGB",
                class_counts(targets, self.label_names),
                len(self.eval_dataset),
                how,
                f", {len(self.test_dataset)} test images" if self.test_dataset is not None else "",
            )
        self.source = str(root)

    def _eval_only_folder(self, root: Path) -> None:
        """``lion eval --data``: a folder of ``<class>/*`` images (or one with a ``val/`` inside), read like a
        training folder (from the disk cache when it fits)."""
        a = self.args
        root = root / "val" if (root / "val").is_dir() else root
        self.label_names = list(a["label_names"])
        self.channels = a["channels"] or 1
        fmnist = not a["data"]
        self.mean = [FMNIST_MEAN if fmnist else 0.5] * self.channels
        self.std = [FMNIST_STD if fmnist else 0.5] * self.channels
        self.eval_dataset = self._open(root, self.label_names)
        self.source = str(root)

    def build_model(self) -> nn.Module:
        return create_model(self.config.model, **self._model_overrides())

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        xs, ys = zip(*items, strict=True)
        return {"images": torch.stack(xs), "labels": torch.as_tensor(ys, dtype=torch.long)}

    def prepare_batch(self, batch: dict[str, Any], step: int, seed: int) -> dict[str, Any]:
        # The augmentation seed of this step on this process; the augmentation itself runs in train_loss,
        # on the device the batch was moved to.
        rank, world = _rank_and_world()
        return {**batch, "aug_seed": (seed * 1_000_003 + step) * world + rank}

    def _pixels(self, images: torch.Tensor) -> torch.Tensor:
        """uint8 (or float in [0, 1]) [B, C, h, w] -> float32 [B, C, H, W] in [0, 1] at the model's size."""
        x = images.float().div_(255.0) if images.dtype == torch.uint8 else images.float()
        if tuple(x.shape[-2:]) != (self.image_size, self.image_size):
            size = (self.image_size, self.image_size)
            x = nn.functional.interpolate(x, size=size, mode="bilinear", align_corners=False, antialias=True)
        return x

    def inputs(self, batch: dict[str, Any]) -> torch.Tensor:
        """The normalised model input of an evaluation batch: [B, C, H, W] float32."""
        return self.augment.normalise(self._pixels(batch["images"]))

    def train_loss(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        labels = batch["labels"]
        if self.augment_config.active:
            x, targets = self.augment(self._pixels(batch["images"]), labels, int(batch.get("aug_seed", 0)))
        else:
            x, targets = self.inputs(batch), labels
        logits = model(x).float()
        if targets.dim() == 2:
            return soft_target_cross_entropy(logits, targets)
        return nn.functional.cross_entropy(logits, targets)

    def eval_sums(self, model: nn.Module, batch: dict[str, Any]) -> dict[str, float]:
        logits = model(self.inputs(batch)).float()
        loss = nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
        correct = (logits.argmax(-1) == batch["labels"]).sum()
        return {"correct": float(correct), "count": float(batch["labels"].numel()), "loss_sum": float(loss)}

    def predictions(self, model: nn.Module, batch: dict[str, Any]) -> torch.Tensor:
        return model(self.inputs(batch)).argmax(-1)

    def state_dict(self) -> dict[str, Any]:
        return {
            "label_names": self.label_names,
            "image_size": self.image_size,
            "patch_size": self.patch_size,
            "channels": self.channels,
        }

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        test = f" / {len(self.test_dataset)} test" if self.test_dataset is not None else ""
        return (
            f"image ({self.source}, {len(self.label_names)} classes, {self.channels}x{self.image_size}px, "
            f"patch {self.patch_size}): {n_train} training / {len(self.eval_dataset)} validation{test} images"
        )

    def check_model(self, model: nn.Module) -> None:
        """Refuse a model that is not an image classifier of this task's shape."""
        cfg = model_config_dict(model)
        n = cfg.get("num_classes")
        if n is not None and n != len(self.label_names):
            raise ValueError(f"the checkpoint's model predicts {n} classes, the data has {len(self.label_names)}")

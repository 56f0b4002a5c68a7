"""DeiT's training recipe (Touvron et al., ICML 2021) for ``lion train image --recipe deit``, and the flags that
set its parts one by one.

The recipe fills in whatever the user did not type: AdamW with weight decay 0.05, peak learning rate
``5e-4 * global_batch / 512``, 5 warm-up epochs then cosine decay to 1e-5, 300 epochs (unless a time budget
or a step count is given), no gradient clipping; random-resized crop, horizontal flip, RandAugment (2 ops,
magnitude 9), mixup 0.8 / cutmix 1.0 (one of the two per batch), label smoothing 0.1, random erasing 0.25,
stochastic depth 0.1, and repeated augmentation (3 copies) when several processes train.
"""

from __future__ import annotations

import argparse
from typing import Any

__all__ = ["DEIT_AUGMENT_ARGS", "DEIT_TRAIN", "IMAGE_PRESETS", "add_recipe_arguments", "resolve_recipe"]

#: Task arguments whose default (None) means "the recipe's value, else off".
DEIT_AUGMENT_ARGS = (
    "random_resized_crop",
    "hflip",
    "randaug",
    "randaug_m",
    "mixup",
    "cutmix",
    "smoothing",
    "erasing",
    "drop_path",
    "repeated_aug",
)

#: The recipe's optimisation settings (TrainConfig fields).
DEIT_TRAIN: dict[str, Any] = {
    "epochs": 300,
    "batch_size": 1024,
    "weight_decay": 0.05,
    "min_lr": 1e-5,
    "grad_clip": 0.0,
}
DEIT_LR_BASE = 5e-4
DEIT_WARMUP_EPOCHS = 5


#: ``--recipe`` presets (the command line adds the flag): task arguments that act as typed flags; the recipe's
#: optimisation settings are filled in by :func:`resolve_recipe`, which knows what the user typed.
IMAGE_PRESETS: dict[str, dict[str, Any]] = {
    "deit": {
        "recipe": "deit",
        "random_resized_crop": True,
        "hflip": True,
        "randaug": 2,
        "randaug_m": 9.0,
        "mixup": 0.8,
        "cutmix": 1.0,
        "smoothing": 0.1,
        "erasing": 0.25,
        "drop_path": 0.1,
    },
    "none": {"recipe": "none"},
}


def add_recipe_arguments(p: argparse.ArgumentParser) -> None:
    """One flag per part of the recipe (``--recipe`` itself comes from the presets)."""
    s = argparse.SUPPRESS
    g = p.add_argument_group(
        "training recipe (each flag overrides the recipe's value)",
        "--recipe deit also sets, unless typed: --epochs 300 (not with --max-minutes alone), --batch-size 1024, "
        "--lr-base 5e-4, --weight-decay 0.05, 5 warm-up epochs, --min-lr 1e-5, --grad-clip 0, and "
        "--repeated-aug 3 under several processes",
    )
    g.add_argument(
        "--lr-base",
        type=float,
        default=s,
        help="scale the learning rate by the global batch: lr = LR_BASE * batch_size / 512 (deit: 5e-4)",
    )
    bool_flag = argparse.BooleanOptionalAction
    g.add_argument("--random-resized-crop", action=bool_flag, default=s, help="random-resized crop, scale 0.08-1")
    g.add_argument("--hflip", action=bool_flag, default=s, help="random horizontal flip (same as --flip)")
    g.add_argument("--randaug", type=int, default=s, metavar="N", help="RandAugment operations per image (0: off)")
    g.add_argument("--randaug-m", type=float, default=s, metavar="M", help="RandAugment magnitude, 0-10 (deit: 9)")
    g.add_argument("--mixup", type=float, default=s, metavar="ALPHA", help="mixup Beta parameter (0: off)")
    g.add_argument("--cutmix", type=float, default=s, metavar="ALPHA", help="cutmix Beta parameter (0: off)")
    g.add_argument("--smoothing", type=float, default=s, help="label smoothing")
    g.add_argument("--erasing", type=float, default=s, metavar="P", help="random-erasing probability")
    g.add_argument("--drop-path", type=float, default=s, metavar="P", help="stochastic depth of the last block")
    g.add_argument(
        "--repeated-aug", type=int, default=s, metavar="N", help="copies of each image per epoch (deit: 3 under DDP)"
    )


def resolve_recipe(merged: dict[str, Any], explicit: set[str]) -> dict[str, Any]:
    """Fill a fresh run's merged config from ``--recipe`` and ``--lr-base``.

    Args:
        merged: TrainConfig fields plus ``task_args`` (task defaults with the typed flags applied).
        explicit: Names of the flags the user typed (TrainConfig fields and task arguments alike).

    Returns:
        The updated ``merged`` (a new dict).

    Raises:
        ValueError: ``--lr`` and ``--lr-base`` were both given, or a value is out of range.
    """
    merged = {**merged, "task_args": dict(merged["task_args"])}
    ta = merged["task_args"]
    recipe = ta.get("recipe", "none")
    if recipe not in ("none", "deit"):
        raise ValueError(f"--recipe must be 'none' or 'deit', got {recipe!r}")
    if "lr" in explicit and "lr_base" in explicit:
        raise ValueError("give --lr or --lr-base, not both (--lr-base sets lr = LR_BASE * batch_size / 512)")
    if recipe == "deit":
        budget_only = "max_minutes" in explicit and not {"epochs", "max_steps"} & explicit
        for key, value in DEIT_TRAIN.items():
            if key not in explicit and not (key == "epochs" and (budget_only or "max_steps" in explicit)):
                merged[key] = value
        if "warmup" not in explicit:
            epochs = merged["epochs"] if not budget_only and "max_steps" not in explicit else DEIT_TRAIN["epochs"]
            # Short runs keep at most a fifth of their steps for warm-up.
            merged["warmup"] = min(DEIT_WARMUP_EPOCHS / epochs, 0.2)
        if "lr" not in explicit and "lr_base" not in explicit:
            ta["lr_base"] = DEIT_LR_BASE
    lr_base = float(ta.get("lr_base") or 0.0)
    if lr_base < 0:
        raise ValueError(f"--lr-base must be >= 0, got {lr_base}")
    if lr_base:
        merged["lr"] = lr_base * merged["batch_size"] / 512
        merged["min_lr"] = min(merged.get("min_lr", 0.0), merged["lr"])
    return merged

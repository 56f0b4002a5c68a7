"""``lion train lra``: the six Long Range Arena tasks (Tay et al., ICLR 2021) with LION classifiers.

- ``listops``: generated ListOps (``--preset short`` for CPU, ``--preset lra`` for LRA's 500-2,000 tokens);
- ``text``: byte-level document classification from the user's JSONL/CSV (``--train FILE --val FILE``);
- ``retrieval``: byte-level document pairs from JSONL with the two-tower classifier;
- ``image``: grey pixel sequences (Fashion-MNIST padded to 32 x 32 = 1,024 tokens, or ``--data DIR``);
- ``pathfinder``: generated Pathfinder at ``--resolution 32|64|128`` (128 = Path-X, 16,384 tokens).

The default model is the task's registry preset ``lion_s_lra_{task}`` (``lion_s_lra_pathx`` at 128 pixels).
"""

from __future__ import annotations

import argparse
import logging
from typing import Any, ClassVar

import torch
from torch import nn

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import add_limit_flags, create_model, model_config_dict
from lion_attn.train.tasks.image import subset
from lion_attn.train.tasks.lra_data import BUILDERS, PIXEL_OFFSET
from lion_attn.train.tasks.sequence import SequenceClassificationTask, logits_of, pad_collate

__all__ = ["PIXEL_OFFSET", "LRATask"]

logger = logging.getLogger(__name__)


class LRATask(SequenceClassificationTask):
    """``lion train lra --task listops|text|retrieval|image|pathfinder``."""

    name = "lra"
    metric = "accuracy"
    defaults: ClassVar[dict[str, Any]] = {"model": "", "epochs": 3, "batch_size": 32, "lr": 1e-3, "weight_decay": 0.01}
    # Pathfinder's image cache (image's ``--cache`` is a mode, not a folder, so it is not a common path option).
    path_args: ClassVar[tuple[str, ...]] = ("cache",)
    arg_defaults: ClassVar[dict[str, Any]] = {
        "task": "listops",
        "num_train": 2000,
        "num_eval": 500,
        "preset": "short",
        "min_length": 0,
        "max_length": 0,
        "max_depth": 10,
        "max_args": 10,
        "train": "",
        "val": "",
        "max_bytes": 4096,
        "pad_to": 1024,
        "fashion_mnist": "",
        "data": "",
        "image_size": 32,
        "resolution": 32,
        "difficulty": "hard",
        "cache": "",
        "workers": 0,
        "train_limit": 0,
        "val_limit": 0,
        "model_args": {},
        "eval_data": "",
        "label_names": [],
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument("--task", choices=tuple(BUILDERS), default=s, help="which LRA task (default listops)")
        p.add_argument("--num-train", type=int, default=s, help="listops/pathfinder: generated training examples")
        p.add_argument("--num-eval", type=int, default=s, help="listops/pathfinder: generated evaluation examples")
        p.add_argument("--preset", choices=("short", "lra"), default=s, help="listops: 100-256 or 500-2000 tokens")
        p.add_argument("--min-length", type=int, default=s, help="listops: shortest expression (overrides --preset)")
        p.add_argument("--max-length", type=int, default=s, help="listops: longest expression (overrides --preset)")
        p.add_argument("--max-depth", type=int, default=s, help="listops: deepest nesting")
        p.add_argument("--max-args", type=int, default=s, help="listops: most arguments per operator")
        p.add_argument("--train", default=s, metavar="FILE", help="text/retrieval: training JSONL (text: or CSV)")
        p.add_argument("--val", default=s, metavar="FILE", help="text/retrieval: validation JSONL (text: or CSV)")
        p.add_argument("--max-bytes", type=int, default=s, help="text/retrieval: bytes kept per document")
        p.add_argument("--pad-to", type=int, default=s, help="image: 1024 pads Fashion-MNIST to 32x32, 0 keeps 784")
        p.add_argument("--fashion-mnist", default=s, metavar="DIR", help="image: folder with the IDX files")
        p.add_argument("--data", default=s, metavar="DIR", help="image: DIR/{train,val}/<class>/* instead")
        p.add_argument("--image-size", type=int, default=s, help="image with --data: side in pixels (grey)")
        p.add_argument("--resolution", type=int, default=s, help="pathfinder: 32, 64 or 128 (Path-X)")
        p.add_argument("--difficulty", choices=("easy", "intermediate", "hard"), default=s, help="pathfinder")
        p.add_argument("--cache", default=s, metavar="DIR", help="pathfinder: cache folder (default data home)")
        p.add_argument("--workers", type=int, default=s, help="pathfinder: generator processes (0: all CPUs)")
        add_limit_flags(p, "a seeded subset of N training samples", "a seeded subset of N evaluation samples")

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        a = self.bind_args(config)
        task = a["task"]
        if task not in BUILDERS:
            raise ValueError(f"--task must be one of {list(BUILDERS)}, got {task!r}")
        data = BUILDERS[task]({**a, "progress": config.progress}, config.seed, for_eval)
        self.dual = task == "retrieval"
        if not config.model:
            wide = task == "pathfinder" and a["resolution"] == 128
            config.model = "lion_s_lra_pathx" if wide else f"lion_s_lra_{task}"
        if data.max_len >= 4096 and config.attn_mode == "parallel":
            logger.warning(
                "lra: %d-token sequences in the parallel form need memory quadratic in the length; "
                "--attn-mode chunk trains in linear memory",
                data.max_len,
            )
        self.pad_id = data.pad_id
        self.max_len = data.max_len
        self.num_classes = data.num_classes
        self.label_names = data.label_names
        self.source = data.source
        self.eval_dataset = subset(data.eval, a["val_limit"], config.seed + 1)
        if not for_eval and data.train is not None:
            self.train_dataset = subset(data.train, a["train_limit"], config.seed)

    def build_model(self) -> nn.Module:
        over = {"max_len": self.max_len, "num_classes": self.num_classes, **self.args["model_args"]}
        return create_model(self.config.model, **over)

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        if not self.dual:
            return pad_collate(items, self.pad_id)
        firsts = pad_collate([(a, y) for (a, _), y in items], self.pad_id)
        seconds = pad_collate([(b, y) for (_, b), y in items], self.pad_id)
        return {
            **firsts,
            "input_ids2": seconds["input_ids"],
            "attention_mask2": seconds["attention_mask"],
        }

    def _logits(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        if not self.dual:
            return super()._logits(model, batch)
        out = model(batch["input_ids"], batch["input_ids2"], batch["attention_mask"], batch["attention_mask2"])
        return logits_of(out).float()

    def state_dict(self) -> dict[str, Any]:
        return {"label_names": self.label_names}

    def check_model(self, model: nn.Module) -> None:
        """Refuse a checkpoint whose model does not fit this task's data."""
        cfg = model_config_dict(model)
        if cfg.get("num_classes") not in (None, self.num_classes):
            raise ValueError(
                f"the checkpoint's model predicts {cfg['num_classes']} classes, the data has {self.num_classes}"
            )
        if cfg.get("dual") is not None and bool(cfg["dual"]) != self.dual:
            raise ValueError("the checkpoint's model and the task disagree on two-tower (retrieval) input")

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        return f"lra ({self.source}): {n_train} training / {len(self.eval_dataset)} evaluation sequences"

"""What the text fine-tuning tasks (``text-cls``, ``glue``) share: the tokenizer choice, BERT-style single or pair
inputs with segment ids, classification (cross-entropy) or regression (one output, MSE), an encoder started from
an ``mlm`` checkpoint or from scratch, metrics over all evaluation predictions, and checkpoints that are complete
transformers model folders (tokenizer files at the top, ``id2label`` in ``config.json``).
"""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from lion_attn.train.tasks.sequence import PairDataset, SequenceClassificationTask, logits_of, pair_collate
from lion_attn.train.tasks.text_common import find_tokenizer_dir
from lion_attn.train.tasks.text_metrics import compute_text_metrics

logger = logging.getLogger(__name__)


def _all_gather(local: list[Any]) -> list[Any]:
    """Every process's list, concatenated (the list itself outside a process group)."""
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return local
    parts: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(parts, local)
    return [x for part in parts for x in part]


def add_tokenizer_flags(p: argparse.ArgumentParser, trained_on: str, seq_len_help: str) -> None:
    """Add the flags that :meth:`TextTask.setup_tokenizer` reads: tokenizer, init, seq-len, vocab-size.

    Args:
        p: The task's parser (defaults suppressed: the task's ``arg_defaults`` apply).
        trained_on: What a ``wordpiece`` tokenizer is trained on, for the help text.
        seq_len_help: The help text of ``--seq-len``.
    """
    s = argparse.SUPPRESS
    p.add_argument(
        "--tokenizer",
        default=s,
        help=f"'wordpiece' (trained on {trained_on}), 'bytes', a BERT vocab.txt or a tokenizer.json "
        "(ignored with --init: the checkpoint's tokenizer is used)",
    )
    p.add_argument("--init", default=s, help="start from this mlm checkpoint (its tokenizer is reused)")
    p.add_argument("--seq-len", type=int, default=s, help=seq_len_help)
    p.add_argument("--vocab-size", type=int, default=s, help="WordPiece vocabulary size when trained here")


class TextTask(SequenceClassificationTask):
    """Base of the text fine-tuning tasks. Subclasses set ``label_names``, ``regression``, ``metric_names``,
    ``group_names`` and the datasets, calling :meth:`setup_tokenizer` and :meth:`encode` on the way.

    Evaluation keeps every prediction (the official metrics, e.g. Matthews correlation or Spearman's rho, are
    not sums over batches): ``eval_sums`` stores them, ``compute_metrics`` gathers them from every process,
    scores them with scikit-learn / scipy and clears the store.
    """

    label_names: list[str]
    regression: bool = False
    metric_names: tuple[str, ...] = ("accuracy",)
    group_names: tuple[str, ...] = ()
    init_dir: Path | None = None
    #: Whether the inputs are sentence pairs; their classifier then pools with ``"pair"`` unless ``--model-arg
    #: classifier_pooling=...`` says otherwise (see :class:`lion_attn.models.LionForSequenceClassification`).
    pairs: bool = False
    #: What one evaluation sample is called in :meth:`describe`.
    sample_noun: str = "texts"

    @property
    def title(self) -> str:
        """The task as :meth:`describe` names it."""
        return self.name

    def describe_extra(self) -> str:
        """More words for the parenthesis of :meth:`describe`."""
        return ""

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        kind = "regression" if self.regression else f"{len(self.label_names)} labels"
        return (
            f"{self.title} ({kind}, {self.tokenizer.kind} tokens{self.describe_extra()}): "
            f"{n_train} training / {len(self.eval_dataset)} evaluation {self.sample_noun}"
        )

    def setup_tokenizer(self, train_texts: list[str]) -> None:
        """Choose the tokenizer: the resumed/evaluated checkpoint's, the ``--init`` checkpoint's, or ``--tokenizer``
        (``bytes``, a ``vocab.txt``, a ``tokenizer.json``, or ``wordpiece`` trained here on ``train_texts``)."""
        from lion_attn.data import WordPieceTokenizer, load_tokenizer
        from lion_attn.data.tokenization import resolve_tokenizer

        a = self.args
        if a.get("init"):
            from lion_attn.train.checkpoint import resolve_checkpoint

            self.init_dir = resolve_checkpoint(a["init"])
        tok_dir = find_tokenizer_dir(a, self.config.resume)
        if tok_dir is None and self.init_dir is not None:
            tok_dir = find_tokenizer_dir({"checkpoint_dir": str(self.init_dir)}, "")
            if tok_dir is None:
                raise ValueError(f"--init {self.init_dir} holds no tokenizer (is it an mlm checkpoint?)")
        if tok_dir is not None:
            self.tokenizer = load_tokenizer(tok_dir)
            return
        tok = resolve_tokenizer(a["tokenizer"])
        if tok is None:
            tok = WordPieceTokenizer.train(train_texts, vocab_size=a["vocab_size"])
            logger.info("trained a WordPiece vocabulary of %d tokens on the training texts", tok.vocab_size)
        self.tokenizer = tok

    def encode(
        self,
        texts_a: list[str],
        texts_b: list[str] | None,
        labels: list[int] | list[float],
        groups: list[int] | None = None,
    ) -> PairDataset:
        """Token ids and segment ids of single texts or pairs (truncated to ``--seq-len``, longer side first)."""
        from lion_attn.data.tokenization import encode_pair

        n = self.args["seq_len"]
        pairs = texts_b if texts_b is not None else [None] * len(texts_a)
        seqs = [encode_pair(self.tokenizer, a, b, n) for a, b in zip(texts_a, pairs, strict=True)]
        return PairDataset(seqs, labels, groups)

    @property
    def num_outputs(self) -> int:
        return 1 if self.regression else len(self.label_names)

    def build_model(self) -> nn.Module:
        from lion_attn.models import LionBertConfig, LionForSequenceClassification, get_model_config, read_config

        pooling = {"classifier_pooling": "pair"} if self.pairs else {}
        over = {"num_labels": self.num_outputs, **pooling, **self.args["model_args"]}
        if self.init_dir is None:
            over = {
                "vocab_size": self.tokenizer.vocab_size,
                "pad_token_id": self.tokenizer.pad_id,
                "max_position_embeddings": max(self.args["seq_len"], 8),
                **over,
            }
            return LionForSequenceClassification(get_model_config(self.config.model, **over))
        data = read_config(self.init_dir)
        if data.get("family") != "bert":
            raise ValueError(
                f"--init {self.init_dir} holds a {data.get('family')!r} model; "
                f"{self.name} needs a bert (mlm) checkpoint"
            )
        from safetensors.torch import load_file

        config = LionBertConfig.from_dict(data).replace(**over)
        if config.max_position_embeddings < self.args["seq_len"]:
            raise ValueError(
                f"--seq-len {self.args['seq_len']} exceeds the --init model's "
                f"{config.max_position_embeddings} positions"
            )
        model = LionForSequenceClassification(config)
        result = model.load_state_dict(load_file(str(self.init_dir / "model.safetensors")), strict=False)
        logger.info("initialised from %s; new: %s", self.init_dir, result.missing_keys)
        return model

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        return pair_collate(items, self.tokenizer.pad_id, self.regression)

    def _logits(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        out = model(batch["input_ids"], attention_mask=batch["attention_mask"], token_type_ids=batch["token_type_ids"])
        return logits_of(out).float()

    def _loss(self, logits: torch.Tensor, labels: torch.Tensor, reduction: str = "mean") -> torch.Tensor:
        if self.regression:
            return nn.functional.mse_loss(logits.squeeze(-1), labels.float(), reduction=reduction)
        return nn.functional.cross_entropy(logits, labels, reduction=reduction)

    def train_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._loss(self._logits(model, batch), batch["labels"])

    def _predict(self, logits: torch.Tensor) -> torch.Tensor:
        return logits.squeeze(-1) if self.regression else logits.argmax(-1)

    def eval_sums(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        logits = self._logits(model, batch)
        pred = self._predict(logits)
        store = self.__dict__.setdefault("_eval_store", [])
        store.extend(
            zip(
                batch["index"].tolist(),
                batch["group"].tolist(),
                pred.cpu().tolist(),
                batch["labels"].cpu().tolist(),
                strict=True,
            )
        )
        sums = {"count": float(len(pred)), "loss_sum": float(self._loss(logits, batch["labels"], "sum"))}
        if not self.regression:
            sums["correct"] = float((pred == batch["labels"]).sum())
        return sums

    def compute_metrics(self, sums: dict[str, float]) -> dict[str, float]:
        store = _all_gather(self.__dict__.pop("_eval_store", []))
        if len(store) != int(sums.get("count", 0)):
            raise RuntimeError(f"metrics over {len(store)} stored predictions but {sums.get('count')} were evaluated")
        store.sort(key=lambda row: row[0])
        cols = [np.asarray(col) for col in zip(*store, strict=True)] if store else [np.zeros(0)] * 4
        _, groups, preds, labels = cols
        out = compute_text_metrics(
            self.metric_names, np.asarray(preds), np.asarray(labels), np.asarray(groups), self.group_names
        )
        out["loss"] = sums.get("loss_sum", 0.0) / max(sums.get("count", 0.0), 1.0)
        return out

    def predictions(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        pred = self._predict(self._logits(model, batch))
        # Scores are compared across attention forms to two decimals (GLUE's STS-B files use three).
        return torch.round(pred * 100).long() if self.regression else pred

    def save_artifacts(self, folder: Path) -> None:
        """The tokenizer files at the top of the checkpoint and the label names in ``config.json``, so the folder
        opens with transformers' ``AutoTokenizer`` and ``pipeline("text-classification")``."""
        from lion_attn.train.checkpoint import atomic_write_text

        self.tokenizer.save(folder, model_max_length=self.args["seq_len"])
        config_file = folder / "config.json"
        data = json.loads(config_file.read_text(encoding="utf-8"))
        names = ["score"] if self.regression else list(self.label_names)
        data["id2label"] = {str(i): name for i, name in enumerate(names)}
        data["label2id"] = {name: i for i, name in enumerate(names)}
        data["problem_type"] = "regression" if self.regression else "single_label_classification"
        atomic_write_text(config_file, json.dumps(data, indent=2) + "\n")

    def state_dict(self) -> dict[str, Any]:
        return {
            "label_names": list(self.label_names),
            "tokenizer_kind": self.tokenizer.kind,
            "regression": self.regression,
        }

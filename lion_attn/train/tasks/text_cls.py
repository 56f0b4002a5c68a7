"""Text classification fine-tuning on JSONL (``text`` and ``label`` fields), from an ``mlm`` checkpoint or from
scratch, with WordPiece or byte-level input. The default is "which Austen novel is this passage from"."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any, ClassVar

from torch import nn

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.image import subset
from lion_attn.train.tasks.sequence import SequenceClassificationTask, TokenDataset
from lion_attn.train.tasks.text_common import TOKENIZER_DIR, find_tokenizer_dir

logger = logging.getLogger(__name__)


class TextClsTask(SequenceClassificationTask):
    """``lion train text-cls --train FILE --val FILE --tokenizer bytes|wordpiece [--init MLM_CHECKPOINT]``."""

    name = "text-cls"
    metric = "accuracy"
    defaults: ClassVar[dict[str, Any]] = {
        "model": "lion_s_bert_tiny",
        "epochs": 3,
        "batch_size": 32,
        "lr": 5e-4,
        "weight_decay": 0.01,
    }
    arg_defaults: ClassVar[dict[str, Any]] = {
        "train": "",
        "val": "",
        "tokenizer": "wordpiece",
        "init": "",
        "seq_len": 256,
        "vocab_size": 8000,
        "train_limit": 0,
        "val_limit": 0,
        "model_args": {},
        "eval_data": "",
        "checkpoint_dir": "",
        "label_names": [],
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument("--train", default=s, help="training JSONL (default: the Austen 'which novel' passages)")
        p.add_argument("--val", default=s, help="validation JSONL (labels must be in the training label set)")
        p.add_argument("--tokenizer", choices=("bytes", "wordpiece"), default=s, help="input units")
        p.add_argument("--init", default=s, help="start from this mlm checkpoint (its tokenizer is reused)")
        p.add_argument("--seq-len", type=int, default=s, help="truncate inputs to this many tokens")
        p.add_argument("--vocab-size", type=int, default=s, help="WordPiece vocabulary size when trained here")
        p.add_argument("--train-limit", type=int, default=s)
        p.add_argument("--val-limit", type=int, default=s)

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        from lion_attn.data import ByteTokenizer, WordPieceTokenizer, load_tokenizer, read_jsonl_classification

        self.config = config
        a = {**self.arg_defaults, **config.task_args}
        self.args = a
        if bool(a["train"]) != bool(a["val"]):
            raise ValueError("give both --train and --val JSONL files (or neither, for the default data)")
        val_path = a["eval_data"] if for_eval and a["eval_data"] else a["val"]
        if a["train"]:
            for flag, path in (("--train", a["train"]), ("--val", val_path)):
                if not Path(path).is_file():
                    raise ValueError(f"{flag} {path} does not exist or is not a file")
            train_texts, train_labels, names = (
                ([], [], list(a["label_names"]))
                if for_eval and a["label_names"]
                else read_jsonl_classification(a["train"])
            )
            val_texts, val_labels, _ = read_jsonl_classification(val_path, label_names=names)
        else:
            train_texts, train_labels, val_texts, val_labels, names = self._default_data()
        self.label_names = names
        init_dir = None
        if a["init"]:
            from lion_attn.train.checkpoint import resolve_checkpoint

            init_dir = resolve_checkpoint(a["init"])
        tok_dir = find_tokenizer_dir(a, config.resume)
        if tok_dir is None and init_dir is not None:
            tok_dir = init_dir / TOKENIZER_DIR if (init_dir / TOKENIZER_DIR).is_dir() else None
            if tok_dir is None:
                raise ValueError(f"--init {init_dir} has no tokenizer/ folder (is it an mlm checkpoint?)")
        self.init_dir = init_dir
        if tok_dir is not None:
            self.tokenizer = load_tokenizer(tok_dir)
        elif a["tokenizer"] == "bytes":
            self.tokenizer = ByteTokenizer()
        else:
            self.tokenizer = WordPieceTokenizer.train(train_texts, vocab_size=a["vocab_size"])
        self.pad_id = self.tokenizer.pad_id
        self.eval_dataset = subset(self._encode(val_texts, val_labels), a["val_limit"], config.seed + 1)
        if not for_eval:
            self.train_dataset = subset(self._encode(train_texts, train_labels), a["train_limit"], config.seed)

    def _default_data(self) -> tuple[list[str], list[int], list[str], list[int], list[str]]:
        from lion_attn.data import austen_passages, data_home, load_austen, read_jsonl_classification

        folder = data_home() / "austen-cls"
        if (folder / "train.jsonl").is_file() and (folder / "val.jsonl").is_file():
            tr_x, tr_y, names = read_jsonl_classification(folder / "train.jsonl")
            va_x, va_y, _ = read_jsonl_classification(folder / "val.jsonl", label_names=names)
            return tr_x, tr_y, va_x, va_y, names
        texts = load_austen()
        train, val = austen_passages(texts, words_per_passage=128, seed=0)
        names = list(texts)
        index = {n: i for i, n in enumerate(names)}
        return (
            [t for t, _ in train],
            [index[y] for _, y in train],
            [t for t, _ in val],
            [index[y] for _, y in val],
            names,
        )

    def _encode(self, texts: list[str], labels: list[int]) -> TokenDataset:
        n = self.args["seq_len"]
        seqs = [self.tokenizer.encode(t, add_special_tokens=True)[:n] for t in texts]
        return TokenDataset(seqs, labels)

    def build_model(self) -> nn.Module:
        from lion_attn.models import LionBertConfig, LionForSequenceClassification, get_model_config, read_config

        over = {"num_labels": len(self.label_names), **self.args["model_args"]}
        if self.init_dir is None:
            over.update(
                vocab_size=self.tokenizer.vocab_size,
                pad_token_id=self.pad_id,
                max_position_embeddings=max(self.args["seq_len"], 8),
            )
            return LionForSequenceClassification(get_model_config(self.config.model, **over))
        data = read_config(self.init_dir)
        if data.get("family") != "bert":
            raise ValueError(
                f"--init {self.init_dir} holds a {data.get('family')!r} model; text-cls needs a bert (mlm) checkpoint"
            )
        from safetensors.torch import load_file

        model = LionForSequenceClassification(LionBertConfig.from_dict(data).replace(**over))
        result = model.load_state_dict(load_file(str(self.init_dir / "model.safetensors")), strict=False)
        logger.info("initialised from %s; new: %s", self.init_dir, result.missing_keys)
        return model

    def save_artifacts(self, folder: Path) -> None:
        self.tokenizer.save(folder / TOKENIZER_DIR)

    def state_dict(self) -> dict[str, Any]:
        return {"label_names": self.label_names, "tokenizer_kind": self.tokenizer.kind}

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        return (
            f"text-cls ({len(self.label_names)} labels, {self.tokenizer.kind} tokens): "
            f"{n_train} training / {len(self.eval_dataset)} evaluation texts"
        )

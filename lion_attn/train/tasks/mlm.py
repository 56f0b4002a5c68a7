"""Masked-language-model pre-training (BERT's objective, Devlin et al. 2019) with dynamic 80/10/10 masking
(deterministic per step, so resumption is exact), sequence packing and masked-token accuracy.

Two sources: ``--text`` (files read into memory, a WordPiece vocabulary trained locally; the default is Austen's
novels) or ``--data`` (a corpus tokenized by ``lion data tokenize``, streamed block by block from its shards with
flat memory; under torchrun each rank reads its own shards; the last shard(s) are held out for evaluation).
``--recipe paper`` selects the paper's MLM recipe (see :data:`MLMTask.presets`)."""

from __future__ import annotations

import argparse
import logging
import time
from pathlib import Path
from typing import Any, ClassVar

import torch
from torch import nn
from torch.utils.data import TensorDataset

from lion_attn.train.config import TrainConfig
from lion_attn.train.tasks.base import Task, add_limit_flags, create_model
from lion_attn.train.tasks.image import subset
from lion_attn.train.tasks.text_common import (
    BERT_TASK_DEFAULTS,
    TEXT_ARG_DEFAULTS,
    check_seq_len,
    find_tokenizer_dir,
    read_texts,
)

logger = logging.getLogger(__name__)


class MLMTask(Task):
    """``lion train mlm --text FILE_OR_DIR``."""

    name = "mlm"
    metric = "mlm_accuracy"
    defaults: ClassVar[dict[str, Any]] = {**BERT_TASK_DEFAULTS}
    #: ``--recipe paper``: the paper's BERT pre-training recipe (after MosaicBERT / M2-BERT): packed sequences of
    #: 128 tokens, 30% masking (``--mask-prob 0.15`` for BERT's rate), AdamW, linear warm-up over 6% of the steps,
    #: linear decay to 2% of the peak, bf16 autocast. The paper's global batch is 4096; set ``--batch-size``.
    presets: ClassVar[dict[str, dict[str, Any]]] = {
        "paper": {
            "seq_len": 128,
            "mask_prob": 0.30,
            "lr": 5e-4,
            "weight_decay": 1e-5,
            "warmup": 0.06,
            "schedule": "linear",
            "min_lr": 1e-5,
            "bf16": True,
        }
    }
    arg_defaults: ClassVar[dict[str, Any]] = {
        **TEXT_ARG_DEFAULTS,
        "text": "",
        "data": "",
        "val_shards": 1,
        "seq_len": 128,
        "mask_prob": 0.15,
        "val_fraction": 0.05,
    }

    @staticmethod
    def add_arguments(p: argparse.ArgumentParser) -> None:
        s = argparse.SUPPRESS
        p.add_argument("--text", default=s, help="text file or folder of *.txt (default: Jane Austen's novels)")
        p.add_argument("--data", default=s, help="a corpus tokenized by `lion data tokenize` (streamed from disk)")
        p.add_argument("--val-shards", type=int, default=s, help="with --data: shards held out for evaluation")
        p.add_argument("--vocab-size", type=int, default=s, help="WordPiece vocabulary size (trained locally)")
        p.add_argument("--seq-len", type=int, default=s, help="tokens per packed sequence")
        p.add_argument("--mask-prob", type=float, default=s, help="fraction of tokens to predict")
        p.add_argument("--val-fraction", type=float, default=s, help="fraction of sequences held out")
        add_limit_flags(p, "N training sequences", "N evaluation sequences")

    def __init__(self, config: TrainConfig, for_eval: bool = False) -> None:
        from lion_attn.data import WordPieceTokenizer, load_tokenizer, pack_sequences

        a = self.bind_args(config)
        if not 0 < a["mask_prob"] <= 1:
            raise ValueError(f"--mask-prob must be in (0, 1], got {a['mask_prob']}")
        if not 0 < a["val_fraction"] < 1:
            raise ValueError(f"--val-fraction must be in (0, 1), got {a['val_fraction']}")
        check_seq_len(a["seq_len"])
        if a["data"]:
            if a["text"]:
                raise ValueError("give --text (raw text) or --data (a tokenized corpus), not both")
            self._init_shards(for_eval)
            return
        texts = read_texts(self.eval_source(for_eval, a["text"]))
        tok_dir = find_tokenizer_dir(a, config.resume)
        if tok_dir is not None:
            self.tokenizer = load_tokenizer(tok_dir)
        else:
            lines = [line for t in texts.values() for line in t.splitlines() if line.strip()]
            self.tokenizer = WordPieceTokenizer.train(lines, vocab_size=a["vocab_size"])
            logger.info("trained a WordPiece vocabulary of %d tokens", self.tokenizer.vocab_size)
        tok = self.tokenizer
        docs = []
        for text in texts.values():
            paragraphs = [p.replace("\n", " ") for p in text.split("\n\n") if p.strip()]
            docs.extend(tok.encode_batch(paragraphs) if hasattr(tok, "encode_batch") else map(tok.encode, paragraphs))
        blocks = pack_sequences(docs, a["seq_len"], tok.cls_id, tok.sep_id)
        if len(blocks) < 2:
            raise ValueError(f"the text gives {len(blocks)} sequence(s) of {a['seq_len']} tokens; need at least 2")
        gen = torch.Generator().manual_seed(1234)
        order = torch.randperm(len(blocks), generator=gen)
        n_val = max(1, round(a["val_fraction"] * len(blocks)))
        if for_eval and a["eval_data"]:
            self.eval_dataset = TensorDataset(blocks)
        else:
            self.eval_dataset = TensorDataset(blocks[order[:n_val].sort().values])
        self.eval_dataset = subset(self.eval_dataset, a["val_limit"], config.seed + 1)
        if not for_eval:
            self.train_dataset = subset(TensorDataset(blocks[order[n_val:]]), a["train_limit"], config.seed)

    def _init_shards(self, for_eval: bool) -> None:
        from lion_attn.data import load_tokenizer
        from lion_attn.data.shards import ShardBlocks, read_index

        a = self.args
        folder = Path(self.eval_source(for_eval, a["data"]))
        index = read_index(folder)
        self.tokenizer = load_tokenizer(folder)
        n = len(index["shards"])
        n_val = a["val_shards"]
        if not 1 <= n_val < n:
            raise ValueError(
                f"--data {folder} has {n} shard(s); --val-shards {n_val} must leave at least one for training "
                "(tokenize more files, or lower --max-shard-tokens)"
            )
        self.eval_dataset = subset(
            ShardBlocks(folder, range(n - n_val, n), a["seq_len"], self.tokenizer.cls_id),
            a["val_limit"],
            self.config.seed + 1,
        )
        if not for_eval:
            self.train_dataset = ShardBlocks(folder, range(n - n_val), a["seq_len"], self.tokenizer.cls_id)
            if len(self.train_dataset) == 0:
                raise ValueError(f"--data {folder}: no training block of {a['seq_len']} tokens")
            if a["train_limit"]:
                raise ValueError("--train-limit does not apply to --data; use --max-steps")
        if len(self.eval_dataset) == 0:
            raise ValueError(f"--data {folder}: the held-out shard(s) give no block of {a['seq_len']} tokens")

    def train_batch_sampler(self, batch_size: int, seed: int, rank: int, world_size: int) -> Any:
        """With ``--data``: each rank reads its own shards (None: the trainer's global shuffle over ``--text``)."""
        from lion_attn.data.shards import ShardBatchSampler, ShardBlocks

        if not isinstance(self.train_dataset, ShardBlocks):
            from lion_attn.train.sampler import ShardedBatchSampler

            return ShardedBatchSampler(len(self.train_dataset), batch_size, seed, rank, world_size)
        return ShardBatchSampler(self.train_dataset, batch_size, seed, rank, world_size)

    def build_model(self) -> nn.Module:
        over = {
            "vocab_size": self.tokenizer.vocab_size,
            "max_position_embeddings": self.args["seq_len"],
            "pad_token_id": self.tokenizer.pad_id,
            **self.args["model_args"],
        }
        return create_model(self.config.model, **over)

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        ids = torch.stack([item[0] for item in items])
        return {"input_ids": ids, "attention_mask": ids != self.tokenizer.pad_id}

    def _mask(self, batch: dict[str, torch.Tensor], seed: int) -> dict[str, torch.Tensor]:
        from lion_attn.data import mask_tokens

        gen = torch.Generator().manual_seed(seed)
        inputs, labels = mask_tokens(
            batch["input_ids"],
            mask_id=self.tokenizer.mask_id,
            vocab_size=self.tokenizer.vocab_size,
            special_ids=self.tokenizer.special_ids,
            mask_prob=self.args["mask_prob"],
            generator=gen,
        )
        return {**batch, "input_ids": inputs, "labels": labels}

    def prepare_batch(self, batch: dict[str, torch.Tensor], step: int, seed: int) -> dict[str, torch.Tensor]:
        return self._mask(batch, seed * 1_000_003 + step)

    def prepare_eval_batch(self, batch: dict[str, torch.Tensor], index: int) -> dict[str, torch.Tensor]:
        # Fixed masks so that every evaluation (and every attention form) scores the same positions.
        return self._mask(batch, 987_654_321 + index)

    def train_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        self._count_tokens(batch)
        return model(batch["input_ids"], attention_mask=batch["attention_mask"], labels=batch["labels"]).loss

    def _count_tokens(self, batch: dict[str, torch.Tensor]) -> None:
        # Throughput in tokens/s (real tokens of this process), logged every --log-every steps.
        now = time.monotonic()
        start, tokens, steps = self.__dict__.get("_throughput", (now, 0, 0))
        tokens, steps = tokens + int(batch["attention_mask"].sum()), steps + 1
        if steps >= self.config.log_every and now > start:
            logger.info("mlm throughput: %.0f tokens/s (this process)", tokens / (now - start))
            start, tokens, steps = now, 0, 0
        self._throughput = (start, tokens, steps)

    def eval_sums(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits.float()
        sel = batch["labels"] != -100
        picked, target = logits[sel], batch["labels"][sel]
        loss = nn.functional.cross_entropy(picked, target, reduction="sum") if target.numel() else torch.tensor(0.0)
        return {
            "correct": float((picked.argmax(-1) == target).sum()),
            "count": float(target.numel()),
            "loss_sum": float(loss),
        }

    def compute_metrics(self, sums: dict[str, float]) -> dict[str, float]:
        count = max(sums.get("count", 0.0), 1.0)
        return {"mlm_accuracy": sums.get("correct", 0.0) / count, "loss": sums.get("loss_sum", 0.0) / count}

    def predictions(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        logits = model(batch["input_ids"], attention_mask=batch["attention_mask"]).logits
        return logits[batch["labels"] != -100].argmax(-1)

    def batch_size_of(self, batch: dict[str, torch.Tensor]) -> int:
        return int(batch["input_ids"].shape[0])

    def save_artifacts(self, folder: Path) -> None:
        # The tokenizer at the top of the checkpoint: the folder is a complete transformers model folder.
        self.tokenizer.save(folder, model_max_length=self.args["seq_len"])

    def state_dict(self) -> dict[str, Any]:
        return {"tokenizer": ".", "vocab_size_trained": self.tokenizer.vocab_size}

    def describe(self) -> str:
        n_train = len(self.train_dataset) if hasattr(self, "train_dataset") else 0
        source = f"shards in {self.args['data']}" if self.args["data"] else "text in memory"
        return (
            f"mlm ({self.tokenizer.vocab_size}-token {self.tokenizer.kind}, {self.args['seq_len']}-token packed "
            f"sequences, {source}, mask rate {self.args['mask_prob']}): "
            f"{n_train} training / {len(self.eval_dataset)} evaluation sequences"
        )

"""Shared pieces of the sequence tasks (lra, text-cls): token-id datasets, padding collation, classifier glue."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn
from torch.utils.data import Dataset

from lion_attn.train.tasks.base import Task


class TokenDataset(Dataset):
    """Pre-tokenised sequences with integer labels: items are ``(ids [T] long, label)``."""

    def __init__(self, sequences: list[list[int]], labels: list[int]) -> None:
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        self.sequences = [torch.as_tensor(s, dtype=torch.long) for s in sequences]
        self.labels = list(labels)

    def __len__(self) -> int:
        return len(self.sequences)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        return self.sequences[index], self.labels[index]


def pad_collate(items: list[tuple[torch.Tensor, int]], pad_id: int) -> dict[str, torch.Tensor]:
    """Right-pad to the longest sequence of the batch; ``attention_mask`` is True at real tokens."""
    seqs, labels = zip(*items, strict=True)
    length = max(len(s) for s in seqs)
    ids = torch.full((len(seqs), length), pad_id, dtype=torch.long)
    mask = torch.zeros((len(seqs), length), dtype=torch.bool)
    for i, s in enumerate(seqs):
        ids[i, : len(s)] = s
        mask[i, : len(s)] = True
    return {"input_ids": ids, "attention_mask": mask, "labels": torch.as_tensor(labels, dtype=torch.long)}


def logits_of(output: Any) -> torch.Tensor:
    """Logits from a model output (a tensor, or an object with ``.logits``)."""
    return output.logits if hasattr(output, "logits") else output


class SequenceClassificationTask(Task):
    """Classification of padded token sequences by ``model(input_ids, attention_mask)``."""

    pad_id = 0

    def collate(self, items: list[Any]) -> dict[str, torch.Tensor]:
        return pad_collate(items, self.pad_id)

    def _logits(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return logits_of(model(batch["input_ids"], attention_mask=batch["attention_mask"])).float()

    def train_loss(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return nn.functional.cross_entropy(self._logits(model, batch), batch["labels"])

    def eval_sums(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> dict[str, float]:
        logits = self._logits(model, batch)
        loss = nn.functional.cross_entropy(logits, batch["labels"], reduction="sum")
        correct = (logits.argmax(-1) == batch["labels"]).sum()
        return {"correct": float(correct), "count": float(batch["labels"].numel()), "loss_sum": float(loss)}

    def predictions(self, model: nn.Module, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        return self._logits(model, batch).argmax(-1)

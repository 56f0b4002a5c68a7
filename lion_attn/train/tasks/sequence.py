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


class PairDataset(Dataset):
    """Pre-tokenised texts or text pairs: items are dicts with ``input_ids`` and ``token_type_ids`` [T] (long),
    ``labels`` (a class id, or a float score for regression), ``index`` (position in the dataset) and ``group``
    (which evaluation file the item came from, e.g. MNLI matched = 0, mismatched = 1)."""

    def __init__(
        self,
        sequences: list[tuple[list[int], list[int]]],
        labels: list[int] | list[float],
        groups: list[int] | None = None,
    ) -> None:
        if len(sequences) != len(labels):
            raise ValueError(f"{len(sequences)} sequences but {len(labels)} labels")
        self.ids = [torch.as_tensor(ids, dtype=torch.long) for ids, _ in sequences]
        self.types = [torch.as_tensor(types, dtype=torch.long) for _, types in sequences]
        self.labels = list(labels)
        self.groups = list(groups) if groups is not None else [0] * len(labels)

    def __len__(self) -> int:
        return len(self.ids)

    def __getitem__(self, index: int) -> dict[str, Any]:
        return {
            "input_ids": self.ids[index],
            "token_type_ids": self.types[index],
            "labels": self.labels[index],
            "index": index,
            "group": self.groups[index],
        }


def pair_collate(items: list[dict[str, Any]], pad_id: int, regression: bool = False) -> dict[str, torch.Tensor]:
    """Right-pad :class:`PairDataset` items to the longest of the batch (segment id 0 at pads)."""
    length = max(len(item["input_ids"]) for item in items)
    ids = torch.full((len(items), length), pad_id, dtype=torch.long)
    types = torch.zeros((len(items), length), dtype=torch.long)
    mask = torch.zeros((len(items), length), dtype=torch.bool)
    for i, item in enumerate(items):
        n = len(item["input_ids"])
        ids[i, :n], types[i, :n], mask[i, :n] = item["input_ids"], item["token_type_ids"], True
    return {
        "input_ids": ids,
        "token_type_ids": types,
        "attention_mask": mask,
        "labels": torch.as_tensor([item["labels"] for item in items], dtype=torch.float if regression else torch.long),
        "index": torch.as_tensor([item["index"] for item in items], dtype=torch.long),
        "group": torch.as_tensor([item["group"] for item in items], dtype=torch.long),
    }

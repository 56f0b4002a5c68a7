"""Seeded, resumable, rank-sharded batch sampling.

The order of an epoch is a permutation drawn from a generator seeded by ``(seed, epoch)`` alone, so it
does not depend on how many processes run or on what happened before: a run resumed mid-epoch skips the
batches it has already seen and continues with exactly the batches an uninterrupted run would have used.
Each global batch of ``batch_size`` indices is split into ``world_size`` equal, contiguous slices, one per
rank, so data-parallel training sees the same global batches as a single process.
"""

from __future__ import annotations

from collections.abc import Iterator

import torch
from torch.utils.data import Sampler


class ShardedBatchSampler(Sampler[list[int]]):
    """Yields this rank's slice of each global batch of an epoch.

    Args:
        num_samples: Dataset length.
        batch_size: Global batch size; must be divisible by ``world_size``.
        seed: Base seed of the shuffle.
        rank: This process's rank.
        world_size: Number of data-parallel processes.
        shuffle: Shuffle (training) or keep the dataset order (evaluation).
        drop_last: Drop the final incomplete global batch (training, so every step has the same size).
    """

    def __init__(
        self,
        num_samples: int,
        batch_size: int,
        seed: int = 0,
        rank: int = 0,
        world_size: int = 1,
        shuffle: bool = True,
        drop_last: bool = True,
    ) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size ({batch_size}) must be divisible by the number of processes ({world_size})")
        if num_samples < 1:
            raise ValueError("the dataset is empty")
        self.num_samples = num_samples
        self.batch_size = batch_size
        self.seed = seed
        self.rank = rank
        self.world_size = world_size
        self.shuffle = shuffle
        # A data set smaller than one batch still trains (one short step per epoch) rather than not at all.
        self.drop_last = drop_last and num_samples >= batch_size
        self.epoch = 0
        self.start_batch = 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        """Select the epoch's permutation and skip its first ``start_batch`` batches (for resuming)."""
        self.epoch = epoch
        self.start_batch = start_batch

    def num_batches(self) -> int:
        """Global batches per epoch."""
        if self.drop_last:
            return self.num_samples // self.batch_size
        return -(-self.num_samples // self.batch_size)

    def __len__(self) -> int:
        return max(0, self.num_batches() - self.start_batch)

    def _order(self) -> list[int]:
        if not self.shuffle:
            return list(range(self.num_samples))
        gen = torch.Generator()
        gen.manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(self.num_samples, generator=gen).tolist()

    def __iter__(self) -> Iterator[list[int]]:
        order = self._order()
        for b in range(self.start_batch, self.num_batches()):
            batch = order[b * self.batch_size : (b + 1) * self.batch_size]
            # Contiguous per-rank slices; a short final batch is split as evenly as possible.
            per = -(-len(batch) // self.world_size)
            yield batch[self.rank * per : (self.rank + 1) * per]


class ShardedEvalSampler(Sampler[list[int]]):
    """Deterministic evaluation batches; rank r takes every world_size-th sample, none duplicated.

    Metrics are computed from sums all-reduced over ranks, so no padding or duplication is needed.
    """

    def __init__(self, num_samples: int, batch_size: int, rank: int = 0, world_size: int = 1) -> None:
        self.indices = list(range(rank, num_samples, world_size))
        self.batch_size = batch_size

    def __len__(self) -> int:
        return -(-len(self.indices) // self.batch_size)

    def __iter__(self) -> Iterator[list[int]]:
        for i in range(0, len(self.indices), self.batch_size):
            yield self.indices[i : i + self.batch_size]

"""Repeated augmentation (Hoffer et al., CVPR 2020; used by DeiT): each image appears several times in a
global batch, each copy augmented differently, the copies on different data-parallel processes.

An epoch keeps its length (``num_samples`` draws), so it sees about ``num_samples / repeats`` distinct images.
The order still depends only on ``(seed, epoch)``, so resuming mid-epoch is exact as with
:class:`~lion_attn.train.sampler.ShardedBatchSampler`, whose rank slicing this sampler reuses.
"""

from __future__ import annotations

from lion_attn.train.sampler import ShardedBatchSampler

__all__ = ["RepeatedAugSampler"]


class RepeatedAugSampler(ShardedBatchSampler):
    """A :class:`ShardedBatchSampler` whose epoch order repeats every drawn image ``repeats`` times.

    Args:
        num_samples, batch_size, seed, rank, world_size: As for :class:`ShardedBatchSampler` (always shuffled,
            last incomplete batch dropped).
        repeats: Copies of each image (DeiT uses 3); with ``repeats <= world_size`` the copies of an image in
            a global batch all go to different processes.
    """

    def __init__(
        self, num_samples: int, batch_size: int, seed: int = 0, rank: int = 0, world_size: int = 1, repeats: int = 3
    ) -> None:
        if not isinstance(repeats, int) or repeats < 1:
            raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
        super().__init__(num_samples, batch_size, seed, rank, world_size, shuffle=True, drop_last=True)
        self.repeats = repeats

    def _order(self) -> list[int]:
        base = super()._order()
        repeated = [i for i in base for _ in range(self.repeats)][: self.num_samples]
        # The parent gives rank r the r-th contiguous slice of each global batch; interleaving the repeated list
        # within each global batch (rank r takes positions r, r + W, ...) sends consecutive copies to
        # consecutive ranks.
        out: list[int] = []
        size = self.batch_size
        for start in range(0, len(repeated), size):
            chunk = repeated[start : start + size]
            if len(chunk) < size:
                out += chunk
                break
            for r in range(self.world_size):
                out += chunk[r :: self.world_size]
        return out

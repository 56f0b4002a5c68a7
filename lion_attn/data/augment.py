"""Batched image augmentation for training vision models, as in DeiT (Touvron et al., ICML 2021).

Everything works on a whole batch [B, C, H, W] on whichever device it lives on (CPU or GPU), so a data
loader only has to deliver uint8 pixels and the accelerator does the rest. The geometric and photometric
operations come from kornia; two pieces are written here, each for a stated reason:

- mixup: kornia's ``RandomMixUpV2`` draws the mixing weight uniformly from a range, while DeiT draws it from
  ``Beta(0.8, 0.8)``; the operation itself is one line.
- soft targets: kornia returns ``(label_a, label_b, weight)`` triples whose weight means "share of b" for
  mixup but "share of a" for cutmix; :func:`soft_targets` turns either into one [B, classes] distribution
  (with label smoothing), which is what the loss needs.

Randomness is drawn from torch's global generator inside :func:`torch.random.fork_rng`, seeded per call, so
an augmented batch depends only on ``(seed, pixels)``: runs are reproducible and a resumed run sees the same
augmentations as an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor

__all__ = ["AugmentConfig", "BatchAugment", "soft_target_cross_entropy", "soft_targets"]


@dataclasses.dataclass
class AugmentConfig:
    """Which augmentations to apply (all off by default; :meth:`deit` gives DeiT's recipe).

    Attributes:
        random_resized_crop: Crop a random area of ``crop_scale`` of the image (aspect ratio 3/4 to 4/3) and
            resize it back to the image size.
        crop_scale: Area range of the random-resized crop.
        hflip: Flip horizontally with probability 0.5.
        randaug_n: RandAugment: operations per image (0: off).
        randaug_m: RandAugment magnitude on a 0-10 scale (DeiT's ``rand-m9``).
        mixup: Mixup ``Beta(alpha, alpha)`` parameter (0: off).
        cutmix: CutMix ``Beta(alpha, alpha)`` parameter (0: off).
        mix_prob: Probability of mixing a batch at all.
        switch_prob: With both mixup and cutmix on, the probability that a batch uses cutmix instead of mixup.
        smoothing: Label smoothing: the target puts ``smoothing`` of its mass uniformly on all classes.
        erasing: Random-erasing probability per image (applied after normalisation, so erased pixels are
            the data mean).
    """

    random_resized_crop: bool = False
    crop_scale: tuple[float, float] = (0.08, 1.0)
    hflip: bool = False
    randaug_n: int = 0
    randaug_m: float = 9.0
    mixup: float = 0.0
    cutmix: float = 0.0
    mix_prob: float = 1.0
    switch_prob: float = 0.5
    smoothing: float = 0.0
    erasing: float = 0.0

    def __post_init__(self) -> None:
        self.crop_scale = (float(self.crop_scale[0]), float(self.crop_scale[1]))
        if not 0.0 < self.crop_scale[0] <= self.crop_scale[1] <= 1.0:
            raise ValueError(f"crop_scale must satisfy 0 < low <= high <= 1, got {self.crop_scale}")
        if self.randaug_n < 0 or not 0.0 < self.randaug_m < 10.0:
            raise ValueError(
                f"randaug_n must be >= 0 and randaug_m in (0, 10), got {self.randaug_n} and {self.randaug_m}"
            )
        for name in ("mixup", "cutmix"):
            if getattr(self, name) < 0:
                raise ValueError(f"{name} must be >= 0 (a Beta parameter, 0 = off), got {getattr(self, name)}")
        for name in ("mix_prob", "switch_prob", "erasing"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise ValueError(f"{name} must be a probability in [0, 1], got {getattr(self, name)}")
        if not 0.0 <= self.smoothing < 1.0:
            raise ValueError(f"smoothing must be in [0, 1), got {self.smoothing}")

    @classmethod
    def deit(cls) -> AugmentConfig:
        """DeiT's ImageNet recipe: crop, flip, rand-m9 (n=2), mixup 0.8, cutmix 1.0, smoothing 0.1, erasing 0.25."""
        return cls(True, (0.08, 1.0), True, 2, 9.0, 0.8, 1.0, 1.0, 0.5, 0.1, 0.25)

    @property
    def soft(self) -> bool:
        """Whether targets are distributions (mixing or smoothing on), i.e. the loss needs soft targets."""
        return self.mixes or self.smoothing > 0

    @property
    def mixes(self) -> bool:
        return (self.mixup > 0 or self.cutmix > 0) and self.mix_prob > 0

    @property
    def active(self) -> bool:
        return self.random_resized_crop or self.hflip or self.randaug_n > 0 or self.erasing > 0 or self.soft


def soft_targets(
    labels_a: Tensor, labels_b: Tensor, weight_a: Tensor, num_classes: int, smoothing: float = 0.0
) -> Tensor:
    """Mix two one-hot label sets with per-sample weights, then smooth.

    Args:
        labels_a: [B] int labels.
        labels_b: [B] int labels of the mixed-in images.
        weight_a: [B] share of ``labels_a`` in [0, 1].
        num_classes: K.
        smoothing: mass spread uniformly over the K classes.

    Returns:
        [B, K] float32 targets; each row sums to 1.
    """
    off = smoothing / num_classes
    on = 1.0 - smoothing + off
    a = torch.full((labels_a.shape[0], num_classes), off, device=labels_a.device).scatter_(
        1, labels_a.long().view(-1, 1), on
    )
    b = torch.full_like(a, off).scatter_(1, labels_b.long().view(-1, 1), on)
    w = weight_a.float().view(-1, 1).to(a.device)
    return w * a + (1.0 - w) * b


def soft_target_cross_entropy(logits: Tensor, targets: Tensor) -> Tensor:
    """Mean over the batch of ``-sum_k targets[b, k] * log_softmax(logits)[b, k]`` (logits, targets [B, K])."""
    return -(targets * F.log_softmax(logits.float(), dim=-1)).sum(dim=-1).mean()


class BatchAugment:
    """Apply an :class:`AugmentConfig` to a batch.

    Args:
        config: Which augmentations.
        num_classes: Number of classes K (for the targets).
        mean: Per-channel mean used to normalise (``(x - mean) / std``).
        std: Per-channel standard deviation.

    ``__call__(images [B, C, H, W] float in [0, 1], labels [B], seed) -> (normalised images [B, C, H, W],
    targets)``: targets are [B, K] float distributions if ``config.soft``, else the [B] labels unchanged.
    """

    def __init__(self, config: AugmentConfig, num_classes: int, mean: Sequence[float], std: Sequence[float]) -> None:
        import kornia.augmentation as K

        if num_classes < 1:
            raise ValueError(f"num_classes must be >= 1, got {num_classes}")
        if len(mean) != len(std) or min(std) <= 0:
            raise ValueError(f"mean and std need the same number of values (std > 0), got {mean} and {std}")
        self.config, self.num_classes = config, num_classes
        self.mean = torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1)
        self.std = torch.tensor(std, dtype=torch.float32).view(1, -1, 1, 1)
        c = config
        self._hflip = K.RandomHorizontalFlip(p=0.5) if c.hflip else None
        # kornia's magnitude runs over (0, 30), DeiT's (timm's) over 0-10.
        self._randaug = (
            K.auto.RandAugment(n=c.randaug_n, m=min(29, max(1, round(3 * c.randaug_m)))) if c.randaug_n else None
        )
        self._erase = K.RandomErasing(p=c.erasing, scale=(0.02, 1 / 3), ratio=(0.3, 3.3)) if c.erasing else None
        self._cutmix = (
            K.RandomCutMixV2(p=1.0, beta=c.cutmix, data_keys=["input", "class"], use_correct_lambda=True)
            if c.cutmix > 0
            else None
        )
        self._crop_scale = c.crop_scale

    def __repr__(self) -> str:
        return f"BatchAugment({self.config})"

    def normalise(self, images: Tensor) -> Tensor:
        """``(images - mean) / std`` for [B, C, H, W] in [0, 1]."""
        return (images - self.mean.to(images.device)) / self.std.to(images.device)

    def __call__(self, images: Tensor, labels: Tensor, seed: int) -> tuple[Tensor, Tensor]:
        if images.dim() != 4 or images.shape[1] != self.mean.shape[1]:
            raise ValueError(f"images must be [B, {self.mean.shape[1]}, H, W], got {list(images.shape)}")
        devices = [images.device] if images.device.type == "cuda" else []
        # Augmentation runs in float32 even inside a bf16 autocast region (interpolation and blending in bf16
        # would quantise the pixels).
        with (
            torch.random.fork_rng(devices=devices, device_type="cuda"),
            torch.autocast(images.device.type, enabled=False),
        ):
            torch.manual_seed(seed)
            x = self._geometric_and_colour(images.float())
            x = self.normalise(x)
            if self._erase is not None:
                x = self._erase(x)
            return self._mix(x, labels)

    def _geometric_and_colour(self, x: Tensor) -> Tensor:
        import kornia.augmentation as K

        if self.config.random_resized_crop:
            crop = K.RandomResizedCrop(tuple(x.shape[-2:]), scale=self._crop_scale, align_corners=False)
            x = crop(x)
        if self._hflip is not None:
            x = self._hflip(x)
        if self._randaug is not None:
            # RandAugment's colour operations need RGB: a grey image goes through as three equal channels,
            # which every operation keeps equal, so their mean is the augmented grey image.
            grey = x.shape[1] == 1
            x = self._randaug(x.expand(-1, 3, -1, -1) if grey else x).clamp_(0.0, 1.0)
            x = x.mean(dim=1, keepdim=True) if grey else x
        return x

    def _mix(self, x: Tensor, labels: Tensor) -> tuple[Tensor, Tensor]:
        c = self.config
        if not c.soft:
            return x, labels
        labels = labels.to(x.device)
        weight = torch.ones(labels.shape[0], device=x.device)
        partner = labels
        if c.mixes and float(torch.rand(())) < c.mix_prob:
            use_cutmix = c.cutmix > 0 and (c.mixup == 0 or float(torch.rand(())) < c.switch_prob)
            if use_cutmix and self._cutmix is not None:
                x, triples = self._cutmix(x, labels)
                # [num_mix=1, B, 3] of (label_a, label_b, share of a) with the corrected-area lambda.
                partner, weight = triples[0, :, 1].long(), triples[0, :, 2]
            else:
                # One weight per batch mixing each image with the batch reversed, as DeiT does.
                lam = float(torch.distributions.Beta(c.mixup, c.mixup).sample())
                lam = min(1.0, max(0.0, lam)) if math.isfinite(lam) else 1.0
                x = lam * x + (1.0 - lam) * x.flip(0)
                partner, weight = labels.flip(0), torch.full_like(weight, lam)
        return x, soft_targets(labels, partner, weight, self.num_classes, c.smoothing)

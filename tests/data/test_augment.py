"""Each batched augmentation on its own: shapes, label mass, consistency of pixels and targets, determinism."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lion_attn.data.augment import AugmentConfig, BatchAugment, soft_target_cross_entropy, soft_targets

K = 10


def _batch(channels: int, b: int = 12, size: int = 20) -> tuple[torch.Tensor, torch.Tensor]:
    gen = torch.Generator().manual_seed(channels)
    return torch.rand(b, channels, size, size + 3, generator=gen), torch.arange(b) % K


def _constant_batch(b: int = 8, size: int = 16) -> tuple[torch.Tensor, torch.Tensor]:
    # Image i is the constant (i + 1) / (b + 1): each pixel says which image it came from.
    values = (torch.arange(b, dtype=torch.float32) + 1) / (b + 1)
    return values.view(b, 1, 1, 1).expand(b, 3, size, size).contiguous(), torch.arange(b)


ONE_AT_A_TIME = {
    "crop": {"random_resized_crop": True},
    "flip": {"hflip": True},
    "randaug": {"randaug_n": 2},
    "erasing": {"erasing": 1.0},
    "mixup": {"mixup": 0.8},
    "cutmix": {"cutmix": 1.0},
    "smoothing": {"smoothing": 0.1},
}


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("name", list(ONE_AT_A_TIME))
def test_each_augmentation_keeps_shapes_and_is_seeded(name, channels):
    x, y = _batch(channels)
    aug = BatchAugment(AugmentConfig(**ONE_AT_A_TIME[name]), K, [0.5] * channels, [0.25] * channels)
    out, targets = aug(x, y, seed=3)
    assert out.shape == x.shape and out.dtype == torch.float32 and torch.isfinite(out).all()
    if aug.config.soft:
        assert targets.shape == (x.shape[0], K)
        torch.testing.assert_close(targets.sum(-1), torch.ones(x.shape[0]))
        assert (targets >= 0).all()
    else:
        assert torch.equal(targets, y)
    again, targets_again = aug(x, y, seed=3)
    assert torch.equal(out, again) and torch.equal(targets, targets_again)
    if name != "smoothing":
        other = [aug(x, y, seed=s)[0] for s in range(4, 8)]
        assert any(not torch.equal(out, o) for o in other), "the seed should change the augmentation"


def test_no_augmentation_only_normalises():
    x, y = _batch(3)
    aug = BatchAugment(AugmentConfig(), K, [0.5, 0.4, 0.3], [0.2, 0.25, 0.5])
    assert not aug.config.active
    out, targets = aug(x, y, seed=0)
    expected = (x - torch.tensor([0.5, 0.4, 0.3]).view(1, 3, 1, 1)) / torch.tensor([0.2, 0.25, 0.5]).view(1, 3, 1, 1)
    torch.testing.assert_close(out, expected)
    assert torch.equal(targets, y)


def test_flip_flips_whole_images():
    x, y = _batch(3)
    out, _ = BatchAugment(AugmentConfig(hflip=True), K, [0.0] * 3, [1.0] * 3)(x, y, seed=1)
    flipped = [torch.equal(out[i], x[i].flip(-1)) for i in range(len(x))]
    kept = [torch.equal(out[i], x[i]) for i in range(len(x))]
    assert all(f or k for f, k in zip(flipped, kept, strict=True)) and any(flipped) and any(kept)


def test_erasing_sets_a_rectangle_to_the_mean():
    x, y = _batch(3)
    out, _ = BatchAugment(AugmentConfig(erasing=1.0), K, [0.5] * 3, [0.25] * 3)(x, y, seed=2)
    normalised = (x - 0.5) / 0.25
    changed = out != normalised
    assert changed.any(dim=(1, 2, 3)).all()
    # Erased pixels are 0 after normalisation, i.e. the mean colour.
    assert (out[changed] == 0).all()


@pytest.mark.parametrize("kind", ["mixup", "cutmix"])
def test_mixed_pixels_match_the_target_mass(kind):
    x, y = _constant_batch()
    b = len(y)
    config = AugmentConfig(mixup=0.8) if kind == "mixup" else AugmentConfig(cutmix=1.0)
    for seed in range(6):
        out, targets = BatchAugment(config, b, [0.0] * 3, [1.0] * 3)(x, y, seed=seed)
        torch.testing.assert_close(targets.sum(-1), torch.ones(b))
        values = x[:, 0, 0, 0]
        for i in range(b):
            if kind == "mixup":
                # A constant image mixed with another constant: its value is the target-weighted mean.
                torch.testing.assert_close(out[i].mean(), (targets[i] * values).sum(), atol=1e-5, rtol=0)
            else:
                # Every pixel comes from one image; the share of pixels from image j is target[i, j].
                share = torch.stack([(out[i] == v).float().mean() for v in values])
                torch.testing.assert_close(share, targets[i], atol=1e-6, rtol=0)


def test_mixup_and_cutmix_alternate():
    x, y = _constant_batch()
    aug = BatchAugment(AugmentConfig(mixup=0.8, cutmix=1.0), 8, [0.0] * 3, [1.0] * 3)
    kinds = set()
    for seed in range(12):
        out, _ = aug(x, y, seed=seed)
        # Cutmix keeps the original pixel values, mixup makes new ones.
        kinds.add("cutmix" if all(v in set(x[:, 0, 0, 0].tolist()) for v in out[:, 0].flatten().tolist()) else "mixup")
    assert kinds == {"mixup", "cutmix"}


def test_soft_targets_and_loss_match_torch():
    a, b = torch.tensor([0, 3, 2]), torch.tensor([1, 3, 0])
    w = torch.tensor([0.25, 1.0, 0.6])
    t = soft_targets(a, b, w, 4, smoothing=0.2)
    expected = torch.tensor(
        [
            [0.05 + 0.8 * 0.25, 0.05 + 0.8 * 0.75, 0.05, 0.05],
            [0.05, 0.05, 0.05, 0.85],
            [0.05 + 0.32, 0.05, 0.05 + 0.48, 0.05],
        ]
    )
    torch.testing.assert_close(t, expected)
    logits = torch.randn(3, 4, generator=torch.Generator().manual_seed(0))
    smooth = soft_targets(a, a, torch.ones(3), 4, smoothing=0.1)
    torch.testing.assert_close(
        soft_target_cross_entropy(logits, smooth), F.cross_entropy(logits, a, label_smoothing=0.1)
    )


def test_deit_preset_and_bad_values():
    deit = AugmentConfig.deit()
    assert (deit.mixup, deit.cutmix, deit.smoothing, deit.erasing, deit.randaug_n, deit.randaug_m) == (
        0.8,
        1.0,
        0.1,
        0.25,
        2,
        9.0,
    )
    assert deit.random_resized_crop and deit.hflip and deit.soft
    for bad in ({"mixup": -1}, {"erasing": 2.0}, {"smoothing": 1.0}, {"crop_scale": (0.5, 0.1)}, {"randaug_m": 12}):
        with pytest.raises(ValueError, match=next(iter(bad)).split("_")[0]):
            AugmentConfig(**bad)
    with pytest.raises(ValueError, match=r"\[B, 3, H, W\]"):
        BatchAugment(AugmentConfig(hflip=True), K, [0.5] * 3, [0.5] * 3)(torch.rand(2, 1, 8, 8), torch.zeros(2), 0)


def test_randaugment_keeps_grey_images_grey():
    # The grey path relies on every RandAugment operation keeping three equal channels equal.
    import kornia.augmentation as K

    randaug = K.auto.RandAugment(n=2, m=27)
    for seed in range(20):
        torch.manual_seed(seed)
        out = randaug(torch.rand(8, 1, 16, 16).expand(-1, 3, -1, -1))
        torch.testing.assert_close(out, out.mean(dim=1, keepdim=True).expand_as(out), atol=1e-6, rtol=0)

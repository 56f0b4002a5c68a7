"""Patch embedding, MLP and stochastic depth."""

from __future__ import annotations

import pytest
import torch

from lion_attn.layers import DropPath, Mlp, PatchEmbed, drop_path


@pytest.mark.parametrize(
    "img,patch,chans,grid",
    [
        (224, 16, 3, (14, 14)),
        (28, 4, 1, (7, 7)),
        (28, 7, 1, (4, 4)),
        ((32, 48), 8, 2, (4, 6)),
        ((30, 20), (5, 4), 3, (6, 5)),
    ],
)
def test_patch_embed_shapes(img, patch, chans: int, grid: tuple[int, int]) -> None:
    embed = PatchEmbed(img, patch, chans, 24)
    assert embed.grid_size == grid
    assert embed.num_patches == grid[0] * grid[1]
    height, width = (img, img) if isinstance(img, int) else img
    out = embed(torch.randn(2, chans, height, width))
    assert out.shape == (2, grid[0] * grid[1], 24)


def test_patch_embed_raster_order() -> None:
    embed = PatchEmbed(8, 4, 1, 1, bias=False)
    with torch.no_grad():
        embed.proj.weight.fill_(1.0)
    image = torch.zeros(1, 1, 8, 8)
    image[0, 0, :4, 4:] = 1.0  # the top-right patch: raster index 1
    assert embed(image)[0, :, 0].tolist() == [0.0, 16.0, 0.0, 0.0]


def test_patch_embed_errors() -> None:
    with pytest.raises(ValueError, match="divisible"):
        PatchEmbed(30, 16, 3, 8)
    with pytest.raises(ValueError, match="patch_size"):
        PatchEmbed(32, 0, 3, 8)
    embed = PatchEmbed(28, 7, 1, 8)
    with pytest.raises(ValueError, match="channels"):
        embed(torch.randn(1, 3, 28, 28))
    with pytest.raises(ValueError, match="size"):
        embed(torch.randn(1, 1, 32, 32))
    with pytest.raises(ValueError, match="B, C, H, W"):
        embed(torch.randn(1, 28, 28))


def test_mlp() -> None:
    mlp = Mlp(8, 32, 4, drop=0.0)
    x = torch.randn(2, 3, 8)
    expected = mlp.fc2(torch.nn.functional.gelu(mlp.fc1(x)))
    assert torch.allclose(mlp(x), expected)
    assert Mlp(8)(x).shape == x.shape


def test_drop_path() -> None:
    torch.manual_seed(0)
    layer = DropPath(0.5)
    x = torch.ones(1000, 3, 4)
    layer.eval()
    assert torch.equal(layer(x), x)
    layer.train()
    out = layer(x)
    per_sample = out.flatten(1)
    # Whole samples are dropped or scaled by 1 / keep.
    assert set(per_sample.unique().tolist()) == {0.0, 2.0}
    assert (per_sample == per_sample[:, :1]).all()
    assert 0.4 < (per_sample[:, 0] == 0).float().mean() < 0.6
    assert torch.equal(drop_path(x, 0.0, training=True), x)
    with pytest.raises(ValueError, match="drop_prob"):
        DropPath(1.5)

"""Image to patch tokens with one strided convolution (Dosovitskiy et al., "An Image is Worth 16x16
Words", ICLR 2021), for any image size and channel count (e.g. 28x28 greyscale)."""

from __future__ import annotations

from typing import Any

from torch import Tensor, nn

__all__ = ["PatchEmbed", "positive_pair"]


def positive_pair(
    value: Any, name: str, expected: str = "a positive int or a pair of positive ints"
) -> tuple[int, int]:
    """``(h, w)`` from an int (square) or a pair of positive ints; else a ValueError naming ``name``."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = (value, value)
    if (
        not isinstance(value, (tuple, list))
        or len(value) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) and v > 0 for v in value)
    ):
        raise ValueError(f"{name} must be {expected}, got {value!r}")
    return int(value[0]), int(value[1])


class PatchEmbed(nn.Module):
    """Split an image into non-overlapping patches and embed each one linearly.

    Args:
        img_size: Image height and width (an int means square).
        patch_size: Patch height and width (an int means square); must divide ``img_size``.
        in_chans: Image channels (1 for greyscale).
        embed_dim: Token width.
        norm_layer: Optional normalisation class applied to the tokens.
        bias: Bias in the projection.

    Attributes:
        grid_size: ``(h, w)`` patches per column and per row.
        num_patches: ``h * w``; tokens are in raster order (row by row).

    Shapes:
        ``forward(x [B, in_chans, H, W]) -> [B, num_patches, embed_dim]``.
    """

    def __init__(
        self,
        img_size: int | tuple[int, int] = 224,
        patch_size: int | tuple[int, int] = 16,
        in_chans: int = 3,
        embed_dim: int = 768,
        norm_layer: type[nn.Module] | None = None,
        bias: bool = True,
    ) -> None:
        super().__init__()
        self.img_size = positive_pair(img_size, "img_size")
        self.patch_size = positive_pair(patch_size, "patch_size")
        if any(i % p for i, p in zip(self.img_size, self.patch_size, strict=True)):
            raise ValueError(f"img_size {self.img_size} must be divisible by patch_size {self.patch_size}")
        if not isinstance(in_chans, int) or in_chans <= 0:
            raise ValueError(f"in_chans must be a positive int, got {in_chans!r}")
        if not isinstance(embed_dim, int) or embed_dim <= 0:
            raise ValueError(f"embed_dim must be a positive int, got {embed_dim!r}")
        self.in_chans = in_chans
        self.embed_dim = embed_dim
        self.grid_size = (self.img_size[0] // self.patch_size[0], self.img_size[1] // self.patch_size[1])
        self.num_patches = self.grid_size[0] * self.grid_size[1]
        self.proj = nn.Conv2d(in_chans, embed_dim, kernel_size=self.patch_size, stride=self.patch_size, bias=bias)
        self.norm = norm_layer(embed_dim) if norm_layer is not None else nn.Identity()

    def forward(self, x: Tensor) -> Tensor:
        """Embed images [B, in_chans, H, W] into tokens [B, num_patches, embed_dim]."""
        if x.dim() != 4:
            raise ValueError(f"expected images [B, C, H, W], got shape {tuple(x.shape)}")
        if x.shape[1] != self.in_chans:
            raise ValueError(f"expected {self.in_chans} input channels, got {x.shape[1]} (shape {tuple(x.shape)})")
        if tuple(x.shape[-2:]) != self.img_size:
            raise ValueError(f"expected images of size {self.img_size}, got {tuple(x.shape[-2:])}")
        x = self.proj(x).flatten(2).transpose(1, 2)  # [B, h * w, D]
        return self.norm(x)

    def extra_repr(self) -> str:
        return f"img_size={self.img_size}, patch_size={self.patch_size}, grid_size={self.grid_size}"

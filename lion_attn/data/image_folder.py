"""A class-per-folder image data set (``root/<class>/<file>.png|jpg|jpeg``), read with Pillow only."""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import Dataset

__all__ = ["IMAGE_EXTENSIONS", "ImageFolder", "detect_channels", "list_images"]

logger = logging.getLogger(__name__)

IMAGE_EXTENSIONS: tuple[str, ...] = (".png", ".jpg", ".jpeg")


def _as_size(image_size: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(image_size, int) and not isinstance(image_size, bool):
        size = (image_size, image_size)
    elif isinstance(image_size, Sequence) and len(image_size) == 2:
        size = (int(image_size[0]), int(image_size[1]))
    else:
        raise TypeError(f"image_size must be an int or a (height, width) pair, got {image_size!r}")
    if min(size) <= 0:
        raise ValueError(f"image_size must be positive, got {image_size!r}")
    return size


def list_images(root: Path, class_names: Sequence[str] | None = None) -> tuple[list[str], list[tuple[Path, int]]]:
    """Class names and ``(path, label)`` pairs of ``root/<class>/<image>``, sorted, without decoding anything.

    Args:
        root: folder with one sub-folder per class (hidden folders are ignored).
        class_names: the class list to use; a sub-folder not in it is an error. Default: sorted sub-folders.

    Returns:
        ``(class_names, samples)``.
    """
    root = Path(root)
    if not root.is_dir():
        raise ValueError(f"image folder {root} does not exist or is not a directory")
    folders = sorted(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))
    if class_names is None:
        if not folders:
            raise ValueError(f"image folder {root} has no class sub-folders (expected root/<class>/<image>)")
        names = [p.name for p in folders]
    else:
        names = list(class_names)
        if len(set(names)) != len(names) or not names:
            raise ValueError(f"class_names must be a non-empty list of unique names, got {names}")
        unknown = [p.name for p in folders if p.name not in names]
        if unknown:
            raise ValueError(f"image folder {root} has classes {unknown} that are not in the training classes {names}")
    index = {name: i for i, name in enumerate(names)}
    samples = [
        (path, index[folder.name])
        for folder in folders
        for path in sorted(folder.iterdir())
        if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS
    ]
    return names, samples


def detect_channels(paths: Sequence[Path], limit: int = 64) -> int:
    """1 if the first ``limit`` readable images are all grey (PIL modes ``1``, ``L``, ``LA``, ``I``, ``I;16``,
    ``F``), else 3. Only headers are read, so this is cheap even for large JPEG folders."""
    from PIL import Image

    checked = 0
    for path in paths:
        if checked >= limit:
            break
        try:
            with Image.open(path) as img:
                mode = img.mode
        except (OSError, SyntaxError, ValueError):
            continue
        checked += 1
        if mode not in ("1", "L", "LA", "I", "I;16", "F"):
            return 3
    return 1


class LabelledImages:
    """What the image datasets (a folder, its cache) report about their classes and unreadable files."""

    class_names: list[str]
    skipped_files: list[Path]

    @property
    def num_classes(self) -> int:
        return len(self.class_names)

    @property
    def num_skipped(self) -> int:
        """Number of unreadable images left out."""
        return len(self.skipped_files)


class ImageFolder(LabelledImages, Dataset):
    """Images under ``root/<class>/`` with labels from the folder names.

    Unless ``lazy``, every image is decoded once when the data set is built, so unreadable or corrupt files are
    found up front:
    with ``on_error="skip"`` they are left out (one warning is logged; see ``num_skipped`` and
    ``skipped_files``), with ``on_error="fail"`` a ValueError names the first bad file.

    Args:
        root: folder with one sub-folder per class (hidden folders are ignored).
        image_size: output size, an int or ``(height, width)``.
        channels: 1 (grey) or 3 (RGB); images are converted.
        fit: ``"resize"`` stretches to ``image_size`` (bilinear); ``"pad"`` keeps the aspect ratio: images that
            are larger are shrunk to fit, then every image is centred on a black canvas of ``image_size``.
        on_error: ``"skip"`` or ``"fail"`` for unreadable images.
        class_names: the class list to use (pass the training set's ``class_names`` for validation data);
            a sub-folder not in it is an error, a class without a folder is allowed. Default: sorted sub-folders.
        mean: optional per-channel mean for normalisation (``(x - mean) / std``); needs ``std``.
        std: optional per-channel standard deviation.
        transform: optional callable applied to the float tensor [C, H, W] (after normalisation), e.g. augmentation.
        cache: keep the decoded uint8 images in memory (fast epochs for small data sets such as Fashion-MNIST).
        lazy: only list the files; decode each image when it is read (in DataLoader workers), for folders too
            large to decode up front (ImageNet). Unreadable files then raise a ValueError naming the file when read.
        output: ``"float"`` (float32 in [0, 1], then normalised and transformed) or ``"uint8"`` (the raw
            fitted pixels, 4x less to copy to an accelerator; normalise there).

    Items are ``(image, label)``: float32 tensor [C, H, W] with values in [0, 1] (before normalisation), or uint8
    [C, H, W] with ``output="uint8"``, and an int.
    """

    def __init__(
        self,
        root: str | Path,
        image_size: int | Sequence[int],
        channels: int = 1,
        fit: str = "resize",
        on_error: str = "skip",
        class_names: Sequence[str] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        transform: Callable[[torch.Tensor], torch.Tensor] | None = None,
        cache: bool = False,
        lazy: bool = False,
        output: str = "float",
    ) -> None:
        self.root = Path(root)
        self.image_size = _as_size(image_size)
        if channels not in (1, 3):
            raise ValueError(f"channels must be 1 or 3, got {channels}")
        if fit not in ("resize", "pad"):
            raise ValueError(f"fit must be 'resize' or 'pad', got {fit!r}")
        if on_error not in ("skip", "fail"):
            raise ValueError(f"on_error must be 'skip' or 'fail', got {on_error!r}")
        if output not in ("float", "uint8"):
            raise ValueError(f"output must be 'float' or 'uint8', got {output!r}")
        if output == "uint8" and (mean is not None or transform is not None):
            raise ValueError("output='uint8' returns the raw pixels: mean, std and transform must not be given")
        self.output = output
        if (mean is None) != (std is None):
            raise ValueError("mean and std must be given together")
        self.channels, self.fit, self.on_error = channels, fit, on_error
        self.transform = transform
        self._mean = self._std = None
        if mean is not None and std is not None:
            if len(mean) != channels or len(std) != channels or min(std) <= 0:
                raise ValueError(f"mean and std need {channels} values each (std > 0), got {mean!r} and {std!r}")
            self._mean = torch.tensor(mean, dtype=torch.float32).view(channels, 1, 1)
            self._std = torch.tensor(std, dtype=torch.float32).view(channels, 1, 1)

        self.class_names, listed = list_images(self.root, class_names)
        self.class_to_idx = {name: i for i, name in enumerate(self.class_names)}
        self.lazy = lazy
        if lazy and cache:
            raise ValueError("cache=True decodes every image up front; it cannot be combined with lazy=True")

        self.samples: list[tuple[Path, int]] = []
        self.skipped_files: list[Path] = []
        self._cache: list[torch.Tensor] | None = [] if cache else None
        for path, label in listed:
            if lazy:
                self.samples.append((path, label))
                continue
            try:
                pixels = self._load(path)
            except ValueError as err:
                if on_error == "fail":
                    raise
                logger.debug("skipping %s: %s", path, err)
                self.skipped_files.append(path)
                continue
            self.samples.append((path, label))
            if self._cache is not None:
                self._cache.append(pixels)
        if self.skipped_files:
            shown = ", ".join(str(p) for p in self.skipped_files[:3])
            more = f" and {len(self.skipped_files) - 3} more" if len(self.skipped_files) > 3 else ""
            logger.warning(
                "skipped %d unreadable image(s) under %s: %s%s", len(self.skipped_files), self.root, shown, more
            )
        if not self.samples:
            raise ValueError(
                f"image folder {self.root} holds no readable images with extensions {IMAGE_EXTENSIONS}"
                + (f" ({len(self.skipped_files)} unreadable)" if self.skipped_files else "")
            )
        self.targets = [label for _, label in self.samples]

    def _load(self, path: Path) -> torch.Tensor:
        """Decode, convert and fit one image: uint8 [C, H, W]. Raises ValueError naming the file."""
        from PIL import Image, ImageOps

        try:
            with Image.open(path) as img:
                img.load()
                img = ImageOps.exif_transpose(img)
                img = img.convert("L" if self.channels == 1 else "RGB")
        except (OSError, SyntaxError, ValueError, Image.DecompressionBombError) as err:
            raise ValueError(f"cannot read image {path}: {err}") from None
        height, width = self.image_size
        if self.fit == "resize":
            if img.size != (width, height):
                img = img.resize((width, height), Image.Resampling.BILINEAR)
        else:
            if img.width > width or img.height > height:
                scale = min(width / img.width, height / img.height)
                new_size = (max(1, round(img.width * scale)), max(1, round(img.height * scale)))
                img = img.resize(new_size, Image.Resampling.BILINEAR)
            canvas = Image.new(img.mode, (width, height), 0)
            canvas.paste(img, ((width - img.width) // 2, (height - img.height) // 2))
            img = canvas
        array = np.asarray(img, dtype=np.uint8)
        if array.ndim == 2:
            array = array[:, :, None]
        return torch.from_numpy(array.copy()).permute(2, 0, 1).contiguous()

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> tuple[torch.Tensor, int]:
        path, label = self.samples[index]
        pixels = self._cache[index] if self._cache is not None else self._load(path)
        if self.output == "uint8":
            return pixels, label
        image = pixels.float().div_(255.0)
        if self._mean is not None and self._std is not None:
            image = (image - self._mean) / self._std
        if self.transform is not None:
            image = self.transform(image)
        return image, label

    def __repr__(self) -> str:
        return (
            f"ImageFolder(root={str(self.root)!r}, images={len(self)}, classes={self.num_classes}, "
            f"size={self.image_size}, channels={self.channels}, fit={self.fit!r}, skipped={self.num_skipped})"
        )

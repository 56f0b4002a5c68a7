from __future__ import annotations

import logging
import zlib

import numpy as np
import pytest
import torch
from PIL import Image

from lion_attn.data.image_folder import ImageFolder, detect_channels, list_images


def _save(path, size, mode="L", value=None, fmt=None):
    path.parent.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(zlib.crc32(path.name.encode()))
    channels = {"L": 1, "RGB": 3, "RGBA": 4}[mode]
    shape = (size[1], size[0]) if channels == 1 else (size[1], size[0], channels)
    array = np.full(shape, value, np.uint8) if value is not None else rng.integers(0, 256, shape, dtype=np.uint8)
    Image.fromarray(array, mode=mode).save(path, format=fmt)
    return path


@pytest.fixture
def tree(tmp_path):
    root = tmp_path / "train"
    _save(root / "cat" / "a.png", (28, 28), "L")
    _save(root / "cat" / "b.JPG", (40, 30), "RGB", fmt="JPEG")
    _save(root / "cat" / "c.jpeg", (17, 50), "RGB", fmt="JPEG")
    _save(root / "dog" / "d.png", (64, 32), "RGBA")
    _save(root / "dog" / "e.png", (10, 10), "L", value=255)
    (root / "dog" / "notes.txt").write_text("not an image")
    (root / ".hidden").mkdir()
    return root


def _corrupt(root):
    (root / "dog" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
    good = _save(root / "cat" / "full.jpg", (32, 32), "RGB", fmt="JPEG").read_bytes()
    (root / "cat" / "truncated.jpg").write_bytes(good[: len(good) // 2])


@pytest.mark.parametrize("channels", [1, 3])
@pytest.mark.parametrize("fit", ["resize", "pad"])
def test_shapes_ranges_and_labels(tree, channels, fit):
    ds = ImageFolder(tree, image_size=(24, 32), channels=channels, fit=fit)
    assert ds.class_names == ["cat", "dog"] and ds.num_classes == 2
    assert len(ds) == 5 and ds.num_skipped == 0
    assert ds.targets == [0, 0, 0, 1, 1]
    for i in range(len(ds)):
        image, label = ds[i]
        assert image.shape == (channels, 24, 32) and image.dtype == torch.float32
        assert float(image.min()) >= 0.0 and float(image.max()) <= 1.0
        assert label == ds.targets[i]


def test_pad_centres_small_images_without_scaling(tree):
    ds = ImageFolder(tree, image_size=16, fit="pad")
    image, _ = ds[[p.name for p, _ in ds.samples].index("e.png")]
    # A white 10x10 image on a black 16x16 canvas, offset by 3 pixels.
    assert torch.all(image[0, 3:13, 3:13] == 1.0)
    assert float(image.sum()) == 100.0


def test_pad_shrinks_large_images_keeping_aspect(tmp_path):
    _save(tmp_path / "x" / "wide.png", (64, 16), "L", value=200)
    image, _ = ImageFolder(tmp_path, image_size=32, fit="pad")[0]
    rows = (image[0] > 0).any(dim=1).nonzero().squeeze(1)
    assert image.shape == (1, 32, 32) and len(rows) == 8 and int(rows[0]) == 12


def test_normalisation_and_cache(tree):
    plain = ImageFolder(tree, image_size=8, channels=3)
    normed = ImageFolder(tree, image_size=8, channels=3, mean=(0.5, 0.5, 0.5), std=(0.25, 0.25, 0.25), cache=True)
    torch.testing.assert_close(normed[2][0], (plain[2][0] - 0.5) / 0.25)
    with pytest.raises(ValueError, match="together"):
        ImageFolder(tree, image_size=8, mean=(0.5,))


def test_corrupt_images_skipped_with_one_warning(tree, caplog):
    _corrupt(tree)
    with caplog.at_level(logging.WARNING, logger="lion_attn.data.image_folder"):
        ds = ImageFolder(tree, image_size=16, on_error="skip")
    assert ds.num_skipped == 2
    assert sorted(p.name for p in ds.skipped_files) == ["broken.png", "truncated.jpg"]
    assert len(ds) == 6
    warnings = [r for r in caplog.records if r.levelno == logging.WARNING]
    assert len(warnings) == 1 and "skipped 2" in warnings[0].getMessage()
    for i in range(len(ds)):
        assert ds[i][0].shape == (1, 16, 16)


def test_corrupt_image_fails_naming_the_file(tree):
    (tree / "dog" / "broken.png").write_bytes(b"not a png at all")
    with pytest.raises(ValueError, match=r"broken\.png"):
        ImageFolder(tree, image_size=16, on_error="fail")


def test_val_folder_uses_train_classes(tree, tmp_path):
    train = ImageFolder(tree, image_size=8)
    _save(tmp_path / "val" / "dog" / "v.png", (8, 8))
    val = ImageFolder(tmp_path / "val", image_size=8, class_names=train.class_names)
    assert val.class_names == ["cat", "dog"] and val.targets == [1]
    _save(tmp_path / "val" / "bird" / "w.png", (8, 8))
    with pytest.raises(ValueError, match=r"\['bird'\].*not in the training classes"):
        ImageFolder(tmp_path / "val", image_size=8, class_names=train.class_names)


@pytest.mark.parametrize("make", ["missing", "empty", "no_images", "only_corrupt"])
def test_bad_roots(tmp_path, make):
    root = tmp_path / "data"
    if make != "missing":
        root.mkdir()
    if make == "no_images":
        (root / "cat").mkdir()
        (root / "cat" / "readme.txt").write_text("x")
    if make == "only_corrupt":
        (root / "cat").mkdir()
        (root / "cat" / "x.png").write_bytes(b"bad")
    with pytest.raises(ValueError, match=str(root)):
        ImageFolder(root, image_size=8)


@pytest.mark.parametrize(
    ("kwargs", "error"),
    [
        ({"image_size": 0}, ValueError),
        ({"image_size": "big"}, TypeError),
        ({"image_size": 8, "channels": 2}, ValueError),
        ({"image_size": 8, "fit": "crop"}, ValueError),
        ({"image_size": 8, "on_error": "ignore"}, ValueError),
    ],
)
def test_bad_arguments(tree, kwargs, error):
    with pytest.raises(error):
        ImageFolder(tree, **kwargs)


def test_works_with_dataloader(tree):
    loader = torch.utils.data.DataLoader(ImageFolder(tree, image_size=12, channels=3), batch_size=4)
    images, labels = next(iter(loader))
    assert images.shape == (4, 3, 12, 12) and labels.tolist() == [0, 0, 0, 1]


def test_lazy_uint8_matches_eager(tree):
    eager = ImageFolder(tree, image_size=(12, 10), channels=3)
    lazy = ImageFolder(tree, image_size=(12, 10), channels=3, lazy=True, output="uint8")
    assert lazy.samples == eager.samples and lazy.targets == eager.targets
    for i in range(len(eager)):
        pixels, label = lazy[i]
        assert pixels.dtype == torch.uint8 and pixels.shape == (3, 12, 10) and label == eager.targets[i]
        torch.testing.assert_close(pixels.float() / 255, eager[i][0])
    with pytest.raises(ValueError, match="uint8"):
        ImageFolder(tree, image_size=8, output="uint8", mean=(0.5,), std=(0.5,))
    with pytest.raises(ValueError, match="lazy"):
        ImageFolder(tree, image_size=8, lazy=True, cache=True)


def test_lazy_reports_a_bad_file_when_read(tree):
    _corrupt(tree)
    lazy = ImageFolder(tree, image_size=8, lazy=True)
    assert lazy.num_skipped == 0 and len(lazy) == 8
    broken = [p.name for p, _ in lazy.samples].index("broken.png")
    with pytest.raises(ValueError, match=r"broken\.png"):
        lazy[broken]


def test_detect_channels(tmp_path):
    grey = [_save(tmp_path / f"g{i}.png", (5, 5), "L") for i in range(3)]
    assert detect_channels(grey) == 1
    assert detect_channels([*grey, _save(tmp_path / "c.jpg", (5, 5), "RGB", fmt="JPEG")]) == 3
    assert detect_channels([*grey, tmp_path / "missing.png"]) == 1


def test_list_images_without_decoding(tree):
    (tree / "dog" / "broken.png").write_bytes(b"not a png")
    names, samples = list_images(tree)
    assert names == ["cat", "dog"]
    assert [(p.name, y) for p, y in samples] == [
        ("a.png", 0),
        ("b.JPG", 0),
        ("c.jpeg", 0),
        ("broken.png", 1),
        ("d.png", 1),
        ("e.png", 1),
    ]


def test_disk_cache_builds_once_and_matches(tree, tmp_path, monkeypatch, caplog):
    from lion_attn.data import image_cache

    _corrupt(tree)
    lazy = ImageFolder(tree, image_size=9, channels=3, lazy=True, output="uint8")
    with caplog.at_level(logging.WARNING):
        cached = image_cache.cached_image_folder(lazy, tmp_path / "cache", num_workers=0)
    assert "skipped 2" in caplog.text and cached.num_skipped == 2
    eager = ImageFolder(tree, image_size=9, channels=3, output="uint8", cache=True)
    assert len(cached) == len(eager) == 6 and cached.targets == eager.targets
    for i in range(len(eager)):
        assert torch.equal(cached[i][0], eager[i][0]) and cached[i][1] == eager[i][1]
    entries = list((tmp_path / "cache").iterdir())
    assert len(entries) == 1 and sorted(p.name for p in entries[0].iterdir()) == [
        "images.npy",
        "labels.npy",
        "meta.json",
    ]

    # A second open reads the cache without decoding anything.
    def no_build(*args, **kwargs):
        raise AssertionError("the cache should not be rebuilt")

    monkeypatch.setattr(image_cache, "_build", no_build)
    again = image_cache.cached_image_folder(lazy, tmp_path / "cache")
    assert torch.equal(again[0][0], cached[0][0])
    # ... and refuses it when bad files must fail the run.
    failing = ImageFolder(tree, image_size=9, channels=3, lazy=True, output="uint8", on_error="fail")
    with pytest.raises(ValueError, match=r"broken\.png|truncated\.jpg"):
        image_cache.cached_image_folder(failing, tmp_path / "cache")
    # Another size, or a changed file, is another key.
    other = ImageFolder(tree, image_size=10, channels=3, lazy=True, output="uint8")
    assert image_cache.cache_key(other) != image_cache.cache_key(lazy)
    _save(tree / "cat" / "new.png", (4, 4))
    changed = ImageFolder(tree, image_size=9, channels=3, lazy=True, output="uint8")
    assert image_cache.cache_key(changed) != image_cache.cache_key(lazy)


def test_interrupted_cache_build_leaves_nothing(tree, tmp_path, monkeypatch):
    from lion_attn.data import image_cache

    lazy = ImageFolder(tree, image_size=9, lazy=True, output="uint8")

    def interrupt(self, index):
        raise KeyboardInterrupt

    monkeypatch.setattr(image_cache._Decode, "__getitem__", interrupt)
    with pytest.raises(KeyboardInterrupt):
        image_cache.cached_image_folder(lazy, tmp_path / "cache")
    assert list((tmp_path / "cache").iterdir()) == []


def test_cache_pickles_without_its_pixels(tree, tmp_path):
    import pickle

    from lion_attn.data import image_cache

    lazy = ImageFolder(tree, image_size=9, channels=3, lazy=True, output="uint8")
    cached = image_cache.cached_image_folder(lazy, tmp_path / "cache")
    blob = pickle.dumps(cached)
    assert len(blob) < 9 * 9 * 3 * len(cached)  # the path travels, not the images
    copy = pickle.loads(blob)
    assert all(torch.equal(copy[i][0], cached[i][0]) for i in range(len(cached)))

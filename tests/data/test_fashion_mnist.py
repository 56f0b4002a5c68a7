from __future__ import annotations

import logging

import numpy as np
import pytest

import lion_attn.data.fashion_mnist as fm
from lion_attn.data.fashion_mnist import FASHION_MNIST_CLASSES, load_fashion_mnist, pixel_sequences
from lion_attn.data.idx import write_idx
from lion_attn.data.paths import SYSTEM_FASHION_MNIST_DIR

needs_system_data = pytest.mark.skipif(
    not (SYSTEM_FASHION_MNIST_DIR / "t10k-images-idx3-ubyte.gz").is_file(),
    reason="dataset-fashion-mnist is not installed",
)


def _write_split(folder, split, images, labels, suffix=".gz"):
    image_stem, label_stem = fm.FASHION_MNIST_FILES[split]
    write_idx(folder / (image_stem + suffix), images)
    write_idx(folder / (label_stem + suffix), labels)


def test_class_names():
    assert len(FASHION_MNIST_CLASSES) == 10
    assert FASHION_MNIST_CLASSES[0] == "T-shirt/top" and FASHION_MNIST_CLASSES[9] == "Ankle boot"


@needs_system_data
@pytest.mark.parametrize(("split", "n"), [("train", 60_000), ("test", 10_000)])
def test_real_data_shapes_and_balanced_labels(split, n):
    images, labels = load_fashion_mnist(split)
    assert images.shape == (n, 28, 28) and images.dtype == np.uint8
    assert labels.shape == (n,) and labels.dtype == np.int64
    np.testing.assert_array_equal(np.bincount(labels, minlength=10), np.full(10, n // 10))
    assert images.max() == 255 and images.min() == 0


def test_explicit_root_raw_files(tmp_path):
    images = np.random.default_rng(0).integers(0, 256, (7, 28, 28), dtype=np.uint8)
    labels = np.arange(7, dtype=np.uint8)
    _write_split(tmp_path / "fashion-mnist", "test", images, labels, suffix="")
    got_images, got_labels = load_fashion_mnist("test", root=tmp_path)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels.astype(np.int64))


def test_data_home_takes_precedence(isolated_data_home):
    images = np.zeros((3, 28, 28), dtype=np.uint8)
    _write_split(isolated_data_home / "fashion-mnist", "train", images, np.array([1, 2, 3], dtype=np.uint8))
    _, labels = load_fashion_mnist("train")
    assert labels.tolist() == [1, 2, 3]


def test_explicit_root_without_files_is_an_error(tmp_path):
    with pytest.raises(FileNotFoundError, match="not found"):
        load_fashion_mnist("train", root=tmp_path)


def test_bad_split():
    with pytest.raises(ValueError, match="split"):
        load_fashion_mnist("validation")


def test_mismatched_labels(tmp_path):
    _write_split(tmp_path, "test", np.zeros((4, 28, 28), dtype=np.uint8), np.zeros(3, dtype=np.uint8))
    with pytest.raises(ValueError, match="4 labels"):
        load_fashion_mnist("test", root=tmp_path)


def test_wrong_image_shape(tmp_path):
    _write_split(tmp_path, "test", np.zeros((4, 32, 32), dtype=np.uint8), np.zeros(4, dtype=np.uint8))
    with pytest.raises(ValueError, match="28, 28"):
        load_fashion_mnist("test", root=tmp_path)


def test_sample_fallback_warns(monkeypatch, tmp_path, caplog):
    monkeypatch.setattr(fm, "SYSTEM_FASHION_MNIST_DIR", tmp_path / "absent")
    with caplog.at_level(logging.WARNING, logger="lion_attn.data.fashion_mnist"):
        train_images, train_labels = load_fashion_mnist("train")
        test_images, test_labels = load_fashion_mnist("test")
    assert "SAMPLE" in caplog.text
    assert train_images.shape == (2000, 28, 28) and test_images.shape == (500, 28, 28)
    np.testing.assert_array_equal(np.bincount(train_labels, minlength=10), np.full(10, 200))
    np.testing.assert_array_equal(np.bincount(test_labels, minlength=10), np.full(10, 50))
    assert fm.find_fashion_mnist("train")[2] is True


@needs_system_data
def test_sample_images_are_real_images_from_the_data_set():
    sample_images, sample_labels = load_fashion_mnist("test", root=fm.SAMPLE_DIR)
    images, labels = load_fashion_mnist("test")
    lookup = {img.tobytes(): lab for img, lab in zip(images, labels, strict=True)}
    assert all(lookup.get(img.tobytes()) == lab for img, lab in zip(sample_images, sample_labels, strict=True))


def test_pixel_sequences_784_and_1024():
    images = np.arange(2 * 28 * 28, dtype=np.int64).reshape(2, 28, 28).astype(np.uint8)
    flat = pixel_sequences(images)
    assert flat.shape == (2, 784) and flat.dtype == np.uint8
    np.testing.assert_array_equal(flat[1], images[1].reshape(-1))
    padded = pixel_sequences(images, pad_to=1024)
    assert padded.shape == (2, 1024)
    square = padded.reshape(2, 32, 32)
    np.testing.assert_array_equal(square[:, 2:30, 2:30], images)
    assert square[:, :2].sum() == 0 and square[:, 30:].sum() == 0 and square[:, :, :2].sum() == 0


@pytest.mark.parametrize(("pad_to", "message"), [(1000, "perfect square"), (400, "smaller")])
def test_pixel_sequences_bad_pad(pad_to, message):
    with pytest.raises(ValueError, match=message):
        pixel_sequences(np.zeros((1, 28, 28), dtype=np.uint8), pad_to=pad_to)

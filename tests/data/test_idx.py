from __future__ import annotations

import gzip
import struct

import numpy as np
import pytest

from lion_attn.data.idx import read_idx, write_idx


@pytest.mark.parametrize("name", ["a-idx3-ubyte", "a-idx3-ubyte.gz"])
@pytest.mark.parametrize("shape", [(5,), (3, 4, 2), (1, 1), (0, 28, 28)])
def test_round_trip(tmp_path, name, shape):
    array = np.random.default_rng(0).integers(0, 256, size=shape, dtype=np.uint8)
    path = write_idx(tmp_path / name, array)
    assert (path.read_bytes()[:2] == b"\x1f\x8b") == name.endswith(".gz")
    back = read_idx(path)
    assert back.dtype == np.uint8 and back.shape == shape
    np.testing.assert_array_equal(back, array)


def test_header_layout_is_big_endian(tmp_path):
    path = write_idx(tmp_path / "x", np.zeros((2, 300), dtype=np.uint8))
    raw = path.read_bytes()
    assert raw[:4] == bytes([0, 0, 8, 2])
    assert struct.unpack(">II", raw[4:12]) == (2, 300)
    assert len(raw) == 12 + 600


def test_compressed_output_is_reproducible(tmp_path):
    array = np.arange(100, dtype=np.uint8)
    a = write_idx(tmp_path / "a.gz", array).read_bytes()
    b = write_idx(tmp_path / "b.gz", array).read_bytes()
    assert a == b


def test_gzip_detected_from_content_not_name(tmp_path):
    array = np.arange(10, dtype=np.uint8)
    path = write_idx(tmp_path / "no-suffix", array, compress=True)
    np.testing.assert_array_equal(read_idx(path), array)


def _header(ndim_dims: tuple[int, ...], dtype: int = 8) -> bytes:
    return bytes([0, 0, dtype, len(ndim_dims)]) + struct.pack(f">{len(ndim_dims)}I", *ndim_dims)


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"\x00\x00", "too short"),
        (b"\x01\x00\x08\x01" + struct.pack(">I", 1) + b"\x00", "two zero bytes"),
        (_header((2,), dtype=0x0D) + b"\x00" * 8, "only 0x08"),
        (bytes([0, 0, 8, 0]), "dimensions is 0"),
        (bytes([0, 0, 8, 3]) + b"\x00\x00\x00\x02", "header truncated"),
        (_header((2, 3)) + b"\x00" * 5, "6 bytes"),
        (_header((2, 3)) + b"\x00" * 7, "7 data bytes"),
    ],
)
def test_corrupt_files_raise_naming_the_file(tmp_path, payload, message):
    path = tmp_path / "bad-idx-ubyte"
    path.write_bytes(payload)
    with pytest.raises(ValueError, match=message) as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_corrupt_gzip_stream(tmp_path):
    good = gzip.compress(_header((4,)) + b"\x01\x02\x03\x04")
    path = tmp_path / "bad.gz"
    path.write_bytes(good[: len(good) // 2])
    with pytest.raises(ValueError, match="gzip") as info:
        read_idx(path)
    assert str(path) in str(info.value)


def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        read_idx(tmp_path / "nope")


def test_write_rejects_wrong_dtype(tmp_path):
    with pytest.raises(TypeError, match="uint8"):
        write_idx(tmp_path / "x", np.zeros(3, dtype=np.int64))

"""Reader and writer for the IDX format used by (Fashion-)MNIST.

Layout: a 4-byte magic ``00 00 <dtype> <ndim>``, one big-endian uint32 per dimension, then the data in
C order. Only ``dtype == 0x08`` (unsigned byte) is used by these data sets, so it is the only one accepted.
Files may be gzip-compressed (detected from the content, not the file name).
"""

from __future__ import annotations

import gzip
import struct
import zlib
from pathlib import Path

import numpy as np

__all__ = ["read_idx", "write_idx"]

_GZIP_MAGIC = b"\x1f\x8b"
_UBYTE = 0x08


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise FileNotFoundError(f"IDX file not found: {path}") from None
    if raw[:2] == _GZIP_MAGIC:
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as err:
            raise ValueError(f"corrupt IDX file {path}: gzip stream cannot be decompressed ({err})") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (raw or gzip-compressed) of unsigned bytes.

    Args:
        path: the file, e.g. ``train-images-idx3-ubyte.gz``.

    Returns:
        A uint8 array whose shape is the one stored in the header, e.g. [N, 28, 28] for images or [N] for labels.

    Raises:
        FileNotFoundError: the file does not exist.
        ValueError: the file is not a valid unsigned-byte IDX file (bad magic, truncated header or data,
            trailing bytes, or a corrupt gzip stream); the message names the file.
    """
    path = Path(path)
    data = _read_bytes(path)
    if len(data) < 4:
        raise ValueError(f"corrupt IDX file {path}: {len(data)} bytes, too short for the 4-byte magic")
    zero0, zero1, dtype, ndim = data[0], data[1], data[2], data[3]
    if zero0 != 0 or zero1 != 0:
        raise ValueError(f"corrupt IDX file {path}: magic must start with two zero bytes, got {data[:4].hex()}")
    if dtype != _UBYTE:
        raise ValueError(f"unsupported IDX file {path}: dtype code 0x{dtype:02x}, only 0x08 (uint8) is supported")
    if ndim == 0:
        raise ValueError(f"corrupt IDX file {path}: number of dimensions is 0")
    header_len = 4 + 4 * ndim
    if len(data) < header_len:
        raise ValueError(f"corrupt IDX file {path}: header truncated ({len(data)} bytes, need {header_len})")
    dims = struct.unpack(f">{ndim}I", data[4:header_len])
    expected = int(np.prod(dims, dtype=np.int64))
    actual = len(data) - header_len
    if actual != expected:
        raise ValueError(
            f"corrupt IDX file {path}: header says shape {tuple(dims)} ({expected} bytes) "
            f"but {actual} data bytes follow"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header_len).reshape(dims).copy()


def write_idx(path: str | Path, array: np.ndarray, *, compress: bool | None = None) -> Path:
    """Write a uint8 array as an IDX file.

    Args:
        path: destination; gzip compression is used when ``compress`` is True, or when it is None and the name
            ends in ``.gz``. The gzip header carries no time stamp, so the output is byte-for-byte reproducible.
        array: uint8 array with 1 to 255 dimensions.
        compress: force compression on or off.

    Returns:
        The path written.
    """
    path = Path(path)
    array = np.asarray(array)
    if array.dtype != np.uint8:
        raise TypeError(f"array must have dtype uint8, got {array.dtype}")
    if not 1 <= array.ndim <= 255:
        raise ValueError(f"array must have 1..255 dimensions, got {array.ndim}")
    header = bytes([0, 0, _UBYTE, array.ndim]) + struct.pack(f">{array.ndim}I", *array.shape)
    payload = header + np.ascontiguousarray(array).tobytes()
    if compress is None:
        compress = path.name.endswith(".gz")
    if compress:
        payload = gzip.compress(payload, compresslevel=9, mtime=0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(payload)
    return path

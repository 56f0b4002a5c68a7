"""Pre-tokenised corpora for masked-language-model pre-training at corpus scale.

``tokenize_corpus`` turns text files (plain or ``.gz``; one document per line, per blank-line paragraph or per
file) into token shards, one worker process per input file. Each shard is a raw little-endian array
(``uint16`` when the vocabulary fits, else ``uint32``) readable with ``numpy.memmap``: the documents' token ids,
each document followed by ``[SEP]``, the stream :func:`lion_attn.data.mlm.pack_sequences` packs. ``index.json``
lists the shards (file, tokens, documents, source) and the tokenizer is saved beside them.

:class:`ShardBlocks` serves packed blocks (``[CLS]`` + ``seq_len - 1`` stream tokens) from the shards by
position, reading each block with ``os.pread``: the corpus is never loaded, and no pages of it stay mapped in
the process (a ``memmap`` would keep every page it touched resident), so memory stays flat whatever the corpus
size. :class:`ShardBatchSampler` gives each data-parallel rank its own shards.
"""

from __future__ import annotations

import bisect
import contextlib
import gzip
import json
import logging
import os
from collections.abc import Iterable, Iterator, Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import Dataset, Sampler

__all__ = [
    "INDEX_FILE",
    "ShardBatchSampler",
    "ShardBlocks",
    "find_text_files",
    "iter_documents",
    "read_index",
    "read_shard",
    "tokenize_corpus",
]

logger = logging.getLogger(__name__)

INDEX_FILE = "index.json"
DOC_MODES = ("line", "paragraph", "file")
_BATCH_DOCS = 2000


def find_text_files(sources: Sequence[str | Path]) -> list[Path]:
    """Files named in ``sources``, folders expanded to their ``*.txt`` and ``*.txt.gz`` (recursively, sorted)."""
    files: list[Path] = []
    for src in sources:
        p = Path(src).expanduser()
        if p.is_dir():
            found = sorted(f for f in p.rglob("*") if f.is_file() and (f.name.endswith((".txt", ".txt.gz"))))
            if not found:
                raise ValueError(f"--text {p} is a folder with no *.txt or *.txt.gz files")
            files.extend(found)
        elif p.is_file():
            files.append(p)
        else:
            raise ValueError(f"--text {p} does not exist")
    if not files:
        raise ValueError("--text names no files")
    return files


def _open_text(path: Path):
    if path.suffix == ".gz":
        return gzip.open(path, "rt", encoding="utf-8", errors="replace")
    return path.open(encoding="utf-8", errors="replace")


def iter_documents(path: Path, doc_mode: str) -> Iterator[str]:
    """Documents of one file, read as a stream (``file`` mode holds one file's text at a time)."""
    with _open_text(path) as handle:
        if doc_mode == "file":
            text = handle.read()
            if text.strip():
                yield text
            return
        if doc_mode == "line":
            for line in handle:
                if line.strip():
                    yield line.rstrip("\n")
            return
        lines: list[str] = []
        for line in handle:
            if line.strip():
                lines.append(line.strip())
            elif lines:
                yield " ".join(lines)
                lines = []
        if lines:
            yield " ".join(lines)


def _encode_many(tok: Any, docs: list[str]) -> list[Any]:
    if tok.kind == "bytes":
        # Vectorised: the same ids as ByteTokenizer.encode (byte b -> b + 5) without a Python int per byte.
        offset = tok.encode("\x00")[0]
        return [np.frombuffer(d.encode("utf-8"), dtype=np.uint8).astype(np.uint16) + offset for d in docs]
    return tok.encode_batch(docs) if hasattr(tok, "encode_batch") else [tok.encode(d) for d in docs]


def _tokenize_file(job: tuple[int, str, str, str, str, int]) -> list[dict[str, Any]]:
    """Worker: tokenize one input file into one or more shards; returns their index entries."""
    from lion_attn.data.tokenization import load_tokenizer

    file_no, path, tok_dir, out_dir, doc_mode, max_tokens = job
    tok = load_tokenizer(tok_dir)
    dtype = np.uint16 if tok.vocab_size <= 2**16 else np.uint32
    entries: list[dict[str, Any]] = []
    state: dict[str, Any] = {}

    def open_shard() -> None:
        name = f"shard-{file_no:05d}-{len(entries):03d}.bin"
        state.update(name=name, handle=(Path(out_dir) / f".{name}.tmp").open("wb"), tokens=0, docs=0)

    def close_shard() -> None:
        state["handle"].close()
        tmp, final = Path(out_dir) / f".{state['name']}.tmp", Path(out_dir) / state["name"]
        if state["tokens"] == 0:
            tmp.unlink()
            return
        tmp.replace(final)
        entries.append({"file": state["name"], "tokens": state["tokens"], "documents": state["docs"], "source": path})

    def flush(docs: list[str]) -> None:
        for ids in _encode_many(tok, docs):
            if not len(ids):
                continue
            if state["tokens"] and state["tokens"] + len(ids) + 1 > max_tokens:
                close_shard()
                open_shard()
            np.asarray(ids, dtype=dtype).tofile(state["handle"])
            np.asarray([tok.sep_id], dtype=dtype).tofile(state["handle"])
            state["tokens"] += len(ids) + 1
            state["docs"] += 1

    open_shard()
    batch: list[str] = []
    for doc in iter_documents(Path(path), doc_mode):
        batch.append(doc)
        if len(batch) >= _BATCH_DOCS:
            flush(batch)
            batch = []
    flush(batch)
    close_shard()
    return entries


def tokenize_corpus(
    sources: Sequence[str | Path],
    tokenizer: Any,
    out_dir: str | Path,
    *,
    doc_mode: str = "line",
    workers: int | None = None,
    max_shard_tokens: int = 2**27,
    progress: bool = True,
) -> dict[str, Any]:
    """Tokenize text files into shards in ``out_dir`` (see the module docstring).

    Args:
        sources: Files or folders (``*.txt``, ``*.txt.gz``); any named file is read, ``.gz`` decompressed.
        tokenizer: A lion-attn tokenizer; saved to ``out_dir`` (the workers load it from there).
        out_dir: Destination folder; it must not already hold an ``index.json``.
        doc_mode: ``"line"`` (one document per line), ``"paragraph"`` (blank-line separated) or ``"file"``.
        workers: Processes (default: CPUs, at most the number of files); 1 runs in this process.
        max_shard_tokens: Start a new shard past this many tokens (large files give several shards).
        progress: Show a progress bar over the input bytes.

    Returns:
        The index (also written to ``out_dir/index.json``).
    """
    if doc_mode not in DOC_MODES:
        raise ValueError(f"--doc-mode must be one of {DOC_MODES}, got {doc_mode!r}")
    if max_shard_tokens < 2:
        raise ValueError(f"max_shard_tokens must be >= 2, got {max_shard_tokens}")
    files = find_text_files(sources)
    out = Path(out_dir)
    if (out / INDEX_FILE).exists():
        raise ValueError(f"--out {out} already holds a tokenized corpus ({INDEX_FILE}); choose another folder")
    out.mkdir(parents=True, exist_ok=True)
    tokenizer.save(out)
    jobs = [(i, str(f), str(out), str(out), doc_mode, max_shard_tokens) for i, f in enumerate(files)]
    workers = max(1, min(workers or os.cpu_count() or 1, len(files)))
    sizes = {str(f): f.stat().st_size for f in files}
    bar = None
    if progress:
        from tqdm.auto import tqdm

        bar = tqdm(total=sum(sizes.values()), unit="B", unit_scale=True, desc="tokenize")
    results: dict[int, list[dict[str, Any]]] = {}
    try:
        if workers == 1:
            done: Iterable[tuple[int, list]] = ((job[0], _tokenize_file(job)) for job in jobs)
            for file_no, entries in done:
                results[file_no] = entries
                if bar is not None:
                    bar.update(sizes[jobs[file_no][1]])
        else:
            # spawn: no fork of a process that may hold threads (the Rust tokenizer's pool, torch's).
            with get_context("spawn").Pool(workers) as pool:
                for entries in pool.imap_unordered(_tokenize_file, jobs):
                    file_no = int(entries[0]["file"].split("-")[1]) if entries else None
                    if file_no is None:
                        continue
                    results[file_no] = entries
                    if bar is not None:
                        bar.update(sizes[jobs[file_no][1]])
    finally:
        if bar is not None:
            bar.close()
    shards = [e for file_no in sorted(results) for e in results[file_no]]
    if not shards:
        raise ValueError(f"--text {', '.join(map(str, sources))}: no tokens (empty files?)")
    index = {
        "format": 1,
        "dtype": "uint16" if tokenizer.vocab_size <= 2**16 else "uint32",
        "doc_mode": doc_mode,
        "tokenizer": {"kind": tokenizer.kind, "vocab_size": tokenizer.vocab_size},
        "total_tokens": sum(s["tokens"] for s in shards),
        "total_documents": sum(s["documents"] for s in shards),
        "shards": shards,
    }
    tmp = out / f".{INDEX_FILE}.tmp"
    tmp.write_text(json.dumps(index, indent=2) + "\n", encoding="utf-8")
    tmp.replace(out / INDEX_FILE)
    logger.info(
        "%d tokens in %d documents -> %d shard(s) in %s",
        index["total_tokens"],
        index["total_documents"],
        len(shards),
        out,
    )
    return index


def read_index(folder: str | Path) -> dict[str, Any]:
    """The ``index.json`` of a tokenized corpus, checked against the shard files' sizes."""
    folder = Path(folder)
    path = folder / INDEX_FILE
    if not path.is_file():
        raise ValueError(f"--data {folder} holds no {INDEX_FILE} (make one with `lion data tokenize`)")
    index = json.loads(path.read_text(encoding="utf-8"))
    itemsize = np.dtype(index["dtype"]).itemsize
    for shard in index["shards"]:
        f = folder / shard["file"]
        if not f.is_file() or f.stat().st_size != shard["tokens"] * itemsize:
            raise ValueError(f"{f}: missing or not {shard['tokens']} tokens long, as {path} says")
    return index


def read_shard(folder: str | Path, shard: dict[str, Any], dtype: str) -> np.ndarray:
    """A whole shard as a read-only ``numpy.memmap`` (for inspection; training reads blocks with pread)."""
    return np.memmap(Path(folder) / shard["file"], dtype=np.dtype(dtype), mode="r", shape=(shard["tokens"],))


class ShardBlocks(Dataset):
    """Packed MLM blocks of a tokenized corpus, item ``i`` -> ``(ids [seq_len] long,)``.

    Block ``j`` of a shard is ``[CLS]`` followed by the shard's stream tokens ``j*(seq_len-1) ... (j+1)*(seq_len-1)``
    (the incomplete tail of each shard is dropped), exactly what ``pack_sequences`` gives for the shard's documents.

    Args:
        folder: The tokenized corpus.
        shards: Indices (into ``index["shards"]``) of the shards to serve.
        seq_len: Tokens per block including ``[CLS]``.
        cls_id: Id put at position 0.
    """

    def __init__(self, folder: str | Path, shards: Sequence[int], seq_len: int, cls_id: int) -> None:
        self.folder = Path(folder)
        index = read_index(folder)
        self.dtype = np.dtype(index["dtype"])
        self.files = [str(self.folder / index["shards"][s]["file"]) for s in shards]
        body = seq_len - 1
        self.blocks_per_shard = [index["shards"][s]["tokens"] // body for s in shards]
        self.starts = np.concatenate([[0], np.cumsum(self.blocks_per_shard)]).tolist()
        self.seq_len, self.cls_id = seq_len, cls_id
        self._fds: dict[int, int] = {}
        self._pid = -1

    def __len__(self) -> int:
        return int(self.starts[-1])

    def shard_range(self, k: int) -> range:
        """Item indices of the ``k``-th served shard."""
        return range(int(self.starts[k]), int(self.starts[k + 1]))

    def _fd(self, k: int) -> int:
        if self._pid != os.getpid():
            # A DataLoader worker inherits the parent's descriptors but must not share their offsets: reopen.
            self._fds, self._pid = {}, os.getpid()
        if k not in self._fds:
            self._fds[k] = os.open(self.files[k], os.O_RDONLY)
        return self._fds[k]

    def __getitem__(self, i: int) -> tuple[torch.Tensor]:
        if not 0 <= i < len(self):
            raise IndexError(f"block {i} out of range [0, {len(self)})")
        k = bisect.bisect_right(self.starts, i) - 1
        body = self.seq_len - 1
        offset = (i - self.starts[k]) * body * self.dtype.itemsize
        raw = os.pread(self._fd(k), body * self.dtype.itemsize, offset)
        out = torch.empty(self.seq_len, dtype=torch.long)
        out[0] = self.cls_id
        out[1:] = torch.from_numpy(np.frombuffer(raw, dtype=self.dtype).astype(np.int64))
        return (out,)

    def __del__(self) -> None:
        for fd in getattr(self, "_fds", {}).values():
            with contextlib.suppress(OSError):
                os.close(fd)

    def __getstate__(self) -> dict[str, Any]:
        return {**self.__dict__, "_fds": {}, "_pid": -1}


class ShardBatchSampler(Sampler[list[int]]):
    """Batches over :class:`ShardBlocks` where each data-parallel rank reads its own shards.

    Rank ``r`` owns shards ``r, r + W, ...`` of an order shuffled once by ``seed`` (so every epoch has the same
    number of batches); each epoch it visits its shards in an order shuffled by ``(seed, epoch)`` and each shard's
    blocks in a shuffled order (one shard's permutation in memory at a time). Every rank runs the same number of
    batches (the smallest rank's count), as data parallelism needs. Resuming at batch ``b``
    of an epoch skips exactly the first ``b`` batches.

    Args:
        dataset: The blocks.
        batch_size: Global batch size (divisible by ``world_size``).
        seed: Seed of the order.
        rank: This process's rank.
        world_size: Number of processes.
    """

    def __init__(self, dataset: ShardBlocks, batch_size: int, seed: int, rank: int = 0, world_size: int = 1) -> None:
        if batch_size % world_size:
            raise ValueError(f"batch_size {batch_size} must be divisible by world_size {world_size}")
        n_shards = len(dataset.blocks_per_shard)
        if n_shards < world_size:
            raise ValueError(f"{n_shards} shard(s) cannot be split over {world_size} processes; tokenize more files")
        self.dataset, self.per_rank = dataset, batch_size // world_size
        self.seed, self.rank, self.world_size = seed, rank, world_size
        self.epoch, self.start_batch = 0, 0

    def set_epoch(self, epoch: int, start_batch: int = 0) -> None:
        self.epoch, self.start_batch = epoch, start_batch

    def _shards_of(self, rank: int, epoch: int | None = None) -> list[int]:
        gen = torch.Generator().manual_seed(self.seed * 100_003)
        owned = torch.randperm(len(self.dataset.blocks_per_shard), generator=gen).tolist()[rank :: self.world_size]
        if epoch is None:
            return owned
        gen = torch.Generator().manual_seed(self.seed * 100_003 + epoch + 1)
        return [owned[i] for i in torch.randperm(len(owned), generator=gen).tolist()]

    def num_batches(self) -> int:
        """Batches per epoch (the same on every rank and in every epoch)."""
        counts = [sum(self.dataset.blocks_per_shard[k] for k in self._shards_of(r)) for r in range(self.world_size)]
        return min(counts) // self.per_rank

    def __len__(self) -> int:
        return max(0, self.num_batches() - self.start_batch)

    def __iter__(self) -> Iterator[list[int]]:
        total, batch, emitted = self.num_batches(), [], 0
        for k in self._shards_of(self.rank, self.epoch):
            gen = torch.Generator().manual_seed((self.seed * 100_003 + self.epoch) * 1009 + k)
            block_range = self.dataset.shard_range(k)
            for j in torch.randperm(len(block_range), generator=gen).tolist():
                batch.append(block_range[j])
                if len(batch) == self.per_rank:
                    if emitted >= self.start_batch:
                        yield batch
                    emitted += 1
                    batch = []
                    if emitted >= total:
                        return

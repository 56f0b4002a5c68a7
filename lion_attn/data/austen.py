"""Jane Austen's six novels (public domain), read from Debian's ``r-cran-janeaustenr`` package.

The package stores each novel as an R character vector (one element per printed line) in an R lazy-load
database, ``data/Rdata.rdx`` (gzip-compressed index) and ``data/Rdata.rdb`` (concatenated records, each a
4-byte big-endian length followed by a zlib stream of R serialisation). The PyPI package ``rdata`` parses
the serialisation. The texts feed masked-language-model pre-training and a 6-way "which novel is this
passage from" classification task.
"""

from __future__ import annotations

import gzip
import io
import logging
import random
import re
import shutil
import subprocess
import tarfile
import warnings
import zlib
from collections.abc import Mapping
from pathlib import Path

from lion_attn.data.paths import SAMPLE_DIR, SYSTEM_JANEAUSTENR_DIR, data_home

__all__ = [
    "AUSTEN_NOVELS",
    "AUSTEN_PAIR_KINDS",
    "austen_passages",
    "austen_same_novel_pairs",
    "consecutive_passages",
    "extract_janeaustenr_deb",
    "load_austen",
    "prose_words",
    "read_austen_dir",
    "read_janeaustenr_rdata",
    "write_austen_pairs_glue",
]

logger = logging.getLogger(__name__)

#: slug -> (title, name of the R object in janeaustenr), in publication order.
AUSTEN_NOVELS: dict[str, tuple[str, str]] = {
    "sense-and-sensibility": ("Sense & Sensibility", "sensesensibility"),
    "pride-and-prejudice": ("Pride & Prejudice", "prideprejudice"),
    "mansfield-park": ("Mansfield Park", "mansfieldpark"),
    "emma": ("Emma", "emma"),
    "northanger-abbey": ("Northanger Abbey", "northangerabbey"),
    "persuasion": ("Persuasion", "persuasion"),
}

_RDATA_SUBDIR = "usr/lib/R/site-library/janeaustenr/data"
_SAMPLE_AUSTEN_DIR = SAMPLE_DIR / "austen"


def _parse_r_object(payload: bytes, what: str):
    import rdata  # optional dependency (extra "train"), imported where needed

    # rdata warns that a bare serialisation stream has no file-type header; that is expected here.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            return rdata.conversion.convert(rdata.parser.parse_data(payload))
        except Exception as err:
            raise ValueError(f"cannot parse R serialisation of {what}: {err}") from err


def read_janeaustenr_rdata(rdata_dir: str | Path) -> dict[str, str]:
    """Read the six novels from janeaustenr's lazy-load database.

    Args:
        rdata_dir: the folder holding ``Rdata.rdx`` and ``Rdata.rdb`` (``.../janeaustenr/data``).

    Returns:
        slug -> full text (lines joined with newlines), in the order of ``AUSTEN_NOVELS``.
    """
    rdata_dir = Path(rdata_dir)
    rdx_path, rdb_path = rdata_dir / "Rdata.rdx", rdata_dir / "Rdata.rdb"
    for path in (rdx_path, rdb_path):
        if not path.is_file():
            raise FileNotFoundError(f"janeaustenr database file not found: {path}")
    try:
        index_raw = gzip.decompress(rdx_path.read_bytes())
    except (OSError, EOFError, zlib.error) as err:
        raise ValueError(f"corrupt janeaustenr index {rdx_path}: {err}") from None
    index = _parse_r_object(index_raw, str(rdx_path))
    variables = {str(k): v for k, v in index["variables"].items()}
    rdb = rdb_path.read_bytes()
    texts: dict[str, str] = {}
    for slug, (_, r_name) in AUSTEN_NOVELS.items():
        if r_name not in variables:
            raise ValueError(f"{rdx_path}: object {r_name!r} missing (found {sorted(variables)})")
        offset, length = (int(x) for x in variables[r_name])
        record = rdb[offset : offset + length]
        if len(record) != length or length < 4:
            raise ValueError(f"corrupt janeaustenr database {rdb_path}: record {r_name!r} truncated")
        try:
            payload = zlib.decompress(record[4:])
        except zlib.error as err:
            raise ValueError(f"corrupt janeaustenr database {rdb_path}: record {r_name!r}: {err}") from None
        lines = _parse_r_object(payload, f"{rdb_path}:{r_name}")
        texts[slug] = "\n".join("" if line is None else str(line) for line in lines)
    return texts


def _extract_with_python(deb_path: Path, dest: Path) -> None:
    # A .deb is an ar archive; the payload is data.tar.{xz,gz,bz2}. Only janeaustenr's data folder is needed.
    raw = deb_path.read_bytes()
    if not raw.startswith(b"!<arch>\n"):
        raise ValueError(f"{deb_path} is not a Debian package (no ar header)")
    pos = 8
    while pos + 60 <= len(raw):
        header = raw[pos : pos + 60]
        name = header[:16].decode("ascii", "replace").strip().rstrip("/")
        size = int(header[48:58].decode("ascii").strip())
        body = raw[pos + 60 : pos + 60 + size]
        pos += 60 + size + (size % 2)
        if not name.startswith("data.tar"):
            continue
        try:
            with tarfile.open(fileobj=io.BytesIO(body), mode="r:*") as tar:
                for member in tar.getmembers():
                    member_name = member.name.lstrip("./")
                    if member.isfile() and member_name.startswith(_RDATA_SUBDIR + "/"):
                        target = dest / member_name
                        target.parent.mkdir(parents=True, exist_ok=True)
                        source = tar.extractfile(member)
                        if source is not None:
                            target.write_bytes(source.read())
        except tarfile.TarError as err:
            raise ValueError(f"cannot read {name} in {deb_path}: {err}") from None
        return
    raise ValueError(f"{deb_path} has no data.tar member")


def extract_janeaustenr_deb(deb_path: str | Path, dest: str | Path) -> Path:
    """Extract a downloaded ``r-cran-janeaustenr`` .deb and return its R data folder.

    Uses ``dpkg-deb -x`` when available, else a pure-Python reader (ar + tar), so a .deb copied to a
    non-Debian machine also works.

    Args:
        deb_path: the package file (``apt-get download r-cran-janeaustenr``).
        dest: folder to extract into.

    Returns:
        ``dest/usr/lib/R/site-library/janeaustenr/data``.
    """
    deb_path, dest = Path(deb_path), Path(dest)
    if not deb_path.is_file():
        raise FileNotFoundError(f"Debian package not found: {deb_path}")
    dest.mkdir(parents=True, exist_ok=True)
    dpkg_deb = shutil.which("dpkg-deb")
    if dpkg_deb is not None:
        result = subprocess.run([dpkg_deb, "-x", str(deb_path), str(dest)], capture_output=True, text=True)
        if result.returncode != 0:
            raise ValueError(f"dpkg-deb -x {deb_path} failed: {result.stderr.strip()}")
    else:
        _extract_with_python(deb_path, dest)
    rdata_dir = dest / _RDATA_SUBDIR
    if not (rdata_dir / "Rdata.rdb").is_file():
        raise ValueError(f"{deb_path} does not contain {_RDATA_SUBDIR}/Rdata.rdb; is it r-cran-janeaustenr?")
    return rdata_dir


def read_austen_dir(folder: str | Path) -> dict[str, str]:
    """Read every ``*.txt`` / ``*.txt.gz`` file of a folder as one novel (key: file name without suffix).

    Files are returned sorted by name, except that the six known slugs come first in publication order.
    """
    folder = Path(folder)
    texts: dict[str, str] = {}
    for path in sorted(folder.glob("*.txt")) + sorted(folder.glob("*.txt.gz")):
        slug = path.name.removesuffix(".gz").removesuffix(".txt")
        if slug in texts:
            continue
        data = gzip.decompress(path.read_bytes()) if path.suffix == ".gz" else path.read_bytes()
        try:
            texts[slug] = data.decode("utf-8")
        except UnicodeDecodeError as err:
            raise ValueError(f"{path} is not valid UTF-8 text: {err}") from None
    order = [s for s in AUSTEN_NOVELS if s in texts] + [s for s in texts if s not in AUSTEN_NOVELS]
    return {slug: texts[slug] for slug in order}


def load_austen(root: str | Path | None = None) -> dict[str, str]:
    """Load the novels as ``slug -> full text`` (see ``AUSTEN_NOVELS`` for slugs and titles).

    Search order: ``root`` (``*.txt`` in the folder itself or in ``root/austen``; an explicit root that holds no
    text is an error), ``<data home>/austen`` (``$LION_DATA`` or ``~/.cache/lion-attn/data``), an installed
    ``r-cran-janeaustenr``, and finally the embedded sample (about 40 KB per novel) with a warning.

    Returns:
        Ordered dict slug -> text; with the prepared data, the six novels in publication order.
    """
    if root is not None:
        root = Path(root).expanduser()
        for folder in (root, root / "austen"):
            texts = read_austen_dir(folder) if folder.is_dir() else {}
            if texts:
                return texts
        raise FileNotFoundError(f"no *.txt files found in {root} or {root / 'austen'}")
    texts = read_austen_dir(data_home() / "austen") if (data_home() / "austen").is_dir() else {}
    if texts:
        return texts
    if (SYSTEM_JANEAUSTENR_DIR / "Rdata.rdb").is_file():
        return read_janeaustenr_rdata(SYSTEM_JANEAUSTENR_DIR)
    texts = read_austen_dir(_SAMPLE_AUSTEN_DIR) if _SAMPLE_AUSTEN_DIR.is_dir() else {}
    if not texts:
        raise FileNotFoundError(f"Austen texts not found and the embedded sample is missing from {SAMPLE_DIR}")
    logger.warning(
        "Austen novels not found; using the small embedded SAMPLE (~40 KB per novel) from %s. "
        "Run `lion data` for the full texts.",
        _SAMPLE_AUSTEN_DIR,
    )
    return texts


# Headings (title, "CHAPTER IV", "VOLUME II") have no lower-case letter; they would give the label away.
_HEADING = re.compile(r"^[^a-z]*$")


def prose_words(text: str) -> list[str]:
    """The words of ``text`` (split on whitespace) without its heading lines, in reading order."""
    return [w for line in text.splitlines() if not _HEADING.match(line) for w in line.split()]


def consecutive_passages(text: str, words_per_passage: int) -> list[list[str]]:
    """:func:`prose_words` cut into consecutive passages of exactly ``words_per_passage`` words (the remainder is
    dropped), in reading order; each passage a list of words."""
    words = prose_words(text)
    return [words[i : i + words_per_passage] for i in range(0, len(words) - words_per_passage + 1, words_per_passage)]


def austen_passages(
    texts: Mapping[str, str],
    words_per_passage: int = 128,
    seed: int = 0,
    val_fraction: float = 0.1,
    max_passages_per_label: int | None = None,
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """Cut novels into passages for the "which novel is this passage from" task.

    Each text is split on whitespace after dropping heading lines (no lower-case letter), then cut into
    consecutive, non-overlapping passages of exactly ``words_per_passage`` words (the remainder is dropped).
    Per label, passages are shuffled with ``seed`` and the first ``val_fraction`` go to validation (at least one
    when a label has two or more passages), so the split is stratified and deterministic.

    Args:
        texts: label -> text, e.g. from :func:`load_austen`.
        words_per_passage: passage length in words (> 0).
        seed: seed of the shuffle.
        val_fraction: fraction of each label's passages used for validation, in [0, 1).
        max_passages_per_label: optional cap per label (applied after the shuffle), to balance the classes.

    Returns:
        ``(train, val)``: lists of ``(passage, label)``, where label is the key in ``texts``. Each list is
        shuffled with ``seed``.
    """
    if words_per_passage <= 0:
        raise ValueError(f"words_per_passage must be > 0, got {words_per_passage}")
    if not 0.0 <= val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in [0, 1), got {val_fraction}")
    if max_passages_per_label is not None and max_passages_per_label <= 0:
        raise ValueError(f"max_passages_per_label must be > 0 or None, got {max_passages_per_label}")
    if not texts:
        raise ValueError("texts is empty")
    rng = random.Random(seed)
    train: list[tuple[str, str]] = []
    val: list[tuple[str, str]] = []
    for label, text in texts.items():
        passages = [" ".join(p) for p in consecutive_passages(text, words_per_passage)]
        if not passages:
            count = len(prose_words(text))
            raise ValueError(f"text {label!r} has {count} words, fewer than words_per_passage={words_per_passage}")
        rng.shuffle(passages)
        if max_passages_per_label is not None:
            passages = passages[:max_passages_per_label]
        n_val = round(len(passages) * val_fraction)
        if val_fraction > 0 and len(passages) >= 2:
            n_val = min(max(n_val, 1), len(passages) - 1)
        val.extend((p, label) for p in passages[:n_val])
        train.extend((p, label) for p in passages[n_val:])
    rng.shuffle(train)
    rng.shuffle(val)
    return train, val


def austen_same_novel_pairs(
    texts: Mapping[str, str],
    words_per_passage: int = 48,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
) -> dict[str, list[tuple[str, str, int]]]:
    """A sentence-pair task from the novels: "are passages A and B from the same novel?" (label 1 if so).

    Passages come from :func:`austen_passages`; the splits use disjoint passages (train from its training part,
    dev and test from halves of its held-out part). Each pair picks a novel for A uniformly, then B from the same
    novel (half the pairs) or from another one, so the classes are balanced.

    Args:
        texts: label -> text, e.g. from :func:`load_austen` (at least two novels).
        words_per_passage: words per passage.
        sizes: pairs per split (default ``{"train": 4000, "dev": 800, "test": 400}``).
        seed: seed of every draw.

    Returns:
        ``{split: [(passage_a, passage_b, label), ...]}``.
    """
    if len(texts) < 2:
        raise ValueError("the same-novel task needs at least two texts")
    sizes = dict(sizes or {"train": 4000, "dev": 800, "test": 400})
    train, held = austen_passages(texts, words_per_passage, seed=seed, val_fraction=0.25)
    half = len(held) // 2
    pools_by_split = {"train": train, "dev": held[:half], "test": held[half:]}
    rng = random.Random(seed + 1)
    out: dict[str, list[tuple[str, str, int]]] = {}
    for split, n in sizes.items():
        pools: dict[str, list[str]] = {}
        for passage, label in pools_by_split[split if split in pools_by_split else "train"]:
            pools.setdefault(label, []).append(passage)
        labels = sorted(label for label, ps in pools.items() if len(ps) >= 2)
        if len(labels) < 2:
            raise ValueError(f"split {split!r}: too few passages per novel; lower words_per_passage")
        pairs = []
        for _ in range(n):
            novel = rng.choice(labels)
            same = rng.random() < 0.5
            a, b = rng.sample(pools[novel], 2) if same else (rng.choice(pools[novel]), None)
            if b is None:
                b = rng.choice(pools[rng.choice([x for x in labels if x != novel])])
            pairs.append((a, b, int(same)))
        out[split] = pairs
    return out


#: Pair tasks :func:`write_austen_pairs_glue` writes: "are A and B from the same novel?" and "is B a garbled copy of
#: A or the next passage?" (:mod:`lion_attn.data.near_duplicates`).
AUSTEN_PAIR_KINDS = ("same-novel", "near-duplicate")


def write_austen_pairs_glue(out_dir: str | Path, kind: str = "same-novel", **kwargs) -> Path:
    """Write an Austen pair task as a GLUE task folder in MRPC's layout (``train.tsv``, ``dev.tsv`` with
    ``Quality, #1 ID, #2 ID, #1 String, #2 String``; ``test.tsv`` with ``index`` and no labels), so that
    ``lion train glue --task mrpc --data OUT_DIR`` trains on it.

    Args:
        out_dir: Destination folder.
        kind: ``"same-novel"`` (:func:`austen_same_novel_pairs`) or ``"near-duplicate"``
            (:func:`lion_attn.data.near_duplicates.near_duplicate_pairs`).
        **kwargs: Passed to the pair builder (``words_per_passage``, ``sizes``, ``seed``, ...).
    """
    from lion_attn.data.glue import write_glue_tsv
    from lion_attn.data.near_duplicates import near_duplicate_pairs

    if kind not in AUSTEN_PAIR_KINDS:
        raise ValueError(f"kind must be one of {AUSTEN_PAIR_KINDS}, got {kind!r}")
    out = Path(out_dir)
    build = austen_same_novel_pairs if kind == "same-novel" else near_duplicate_pairs
    splits = build(load_austen(), **kwargs)
    head = ("Quality", "#1 ID", "#2 ID", "#1 String", "#2 String")
    for split in ("train", "dev"):
        rows = ((y, 2 * i, 2 * i + 1, a, b) for i, (a, b, y) in enumerate(splits[split]))
        write_glue_tsv(out / f"{split}.tsv", head, rows)
    test_rows = ((i, 2 * i, 2 * i + 1, a, b) for i, (a, b, _) in enumerate(splits["test"]))
    write_glue_tsv(out / "test.tsv", ("index", *head[1:]), test_rows)
    # The test labels are kept aside (GLUE hides them) so predictions can be scored here.
    write_glue_tsv(out / "test_labels.tsv", ("index", "label"), ((i, y) for i, (_, _, y) in enumerate(splits["test"])))
    return out

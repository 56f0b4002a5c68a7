"""Data for lion-attn: local readers, tokenizers, MLM collation and generators.

Nothing here downloads at run time. Default data sets come from Debian packages (``lion data``, see
:mod:`lion_attn.data.preparation`) and fall back to small samples shipped in ``lion_attn/data/_sample``.
Optional dependencies (``tokenizers``, ``rdata``, ``pillow``; the ``[train]`` extra) are imported only by the
functions that need them.
"""

from __future__ import annotations

from lion_attn.data.austen import (
    AUSTEN_NOVELS,
    austen_passages,
    extract_janeaustenr_deb,
    load_austen,
    read_austen_dir,
    read_janeaustenr_rdata,
)
from lion_attn.data.fashion_mnist import (
    FASHION_MNIST_CLASSES,
    find_fashion_mnist,
    load_fashion_mnist,
    pixel_sequences,
)
from lion_attn.data.idx import read_idx, write_idx
from lion_attn.data.image_folder import IMAGE_EXTENSIONS, ImageFolder
from lion_attn.data.jsonl import read_jsonl_classification, write_jsonl_classification
from lion_attn.data.listops import (
    LISTOPS_CLS_ID,
    LISTOPS_OPERATORS,
    LISTOPS_PAD_ID,
    LISTOPS_VOCAB,
    encode_listops,
    generate_listops,
    listops_value,
)
from lion_attn.data.mlm import IGNORE_INDEX, mask_tokens, pack_sequences
from lion_attn.data.paths import SAMPLE_DIR, data_home
from lion_attn.data.preparation import DATASETS, DataPrepareError, full_austen_texts, prepare
from lion_attn.data.tokenization import SPECIAL_TOKENS, ByteTokenizer, Tokenizer, WordPieceTokenizer, load_tokenizer

__all__ = [
    "AUSTEN_NOVELS",
    "DATASETS",
    "FASHION_MNIST_CLASSES",
    "IGNORE_INDEX",
    "IMAGE_EXTENSIONS",
    "LISTOPS_CLS_ID",
    "LISTOPS_OPERATORS",
    "LISTOPS_PAD_ID",
    "LISTOPS_VOCAB",
    "SAMPLE_DIR",
    "SPECIAL_TOKENS",
    "ByteTokenizer",
    "DataPrepareError",
    "ImageFolder",
    "Tokenizer",
    "WordPieceTokenizer",
    "austen_passages",
    "data_home",
    "encode_listops",
    "extract_janeaustenr_deb",
    "find_fashion_mnist",
    "full_austen_texts",
    "generate_listops",
    "listops_value",
    "load_austen",
    "load_fashion_mnist",
    "load_tokenizer",
    "mask_tokens",
    "pack_sequences",
    "pixel_sequences",
    "prepare",
    "read_austen_dir",
    "read_idx",
    "read_janeaustenr_rdata",
    "read_jsonl_classification",
    "write_idx",
    "write_jsonl_classification",
]

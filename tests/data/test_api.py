from __future__ import annotations

import subprocess
import sys

import lion_attn.data

EXPECTED = {
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
    "read_jsonl_classification",
    "read_janeaustenr_rdata",
    "write_idx",
    "write_jsonl_classification",
}


def test_public_api_is_pinned():
    assert set(lion_attn.data.__all__) == EXPECTED
    assert len(lion_attn.data.__all__) == len(EXPECTED)
    for name in EXPECTED:
        assert getattr(lion_attn.data, name) is not None


def test_import_does_not_load_optional_dependencies_or_the_cli():
    # lion_attn/__init__.py exports the models, so importing any submodule loads them; the optional
    # dependencies and the training CLI must stay out.
    code = (
        "import sys, lion_attn.data; "
        "print(sorted(m for m in ('tokenizers', 'PIL', 'rdata', 'lion_attn.train') if m in sys.modules))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"


def test_data_home_follows_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("LION_DATA", str(tmp_path))
    assert lion_attn.data.data_home() == tmp_path
    monkeypatch.delenv("LION_DATA")
    assert lion_attn.data.data_home().parts[-3:] == (".cache", "lion-attn", "data")

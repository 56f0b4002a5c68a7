"""``benchmarks/embed.py`` measures every model kind on a tiny BERT (in-process, so the test stays quick)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _load_benchmark():
    sys.path.insert(0, str(ROOT / "benchmarks"))
    spec = importlib.util.spec_from_file_location("embed_benchmark", ROOT / "benchmarks" / "embed.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize(
    "case",
    [
        {"model": "lion-s", "variant": "s", "mode": "chunk"},
        {"model": "lion-d", "variant": "d", "mode": "recurrent"},
        {"model": "softmax-truncated", "mode": "softmax"},
        {"model": "softmax-windowed", "mode": "softmax"},
    ],
)
def test_run_case_on_a_document_longer_than_the_table(tiny_bert: Path, case: dict) -> None:
    bench = _load_benchmark()
    spec = {**case, "teacher": str(tiny_bert), "T": 700, "repeats": 1, "threads": 1, "max_seconds": 30.0}
    result = bench.run_case({**spec, "chunk_size": 64})
    assert result["status"] == "ok", result
    assert result["docs_per_s"] > 0 and result["memory_bytes"] >= 0
    table = bench._table([{**case, "T": 700, **result}], [700])
    assert "T=700" in table and "error" not in table

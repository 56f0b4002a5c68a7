"""benchmarks/pathx_memory.py: one training step of the Path-X preset, measured in a fresh process."""

from __future__ import annotations

import importlib.util
from pathlib import Path

BENCH = Path(__file__).resolve().parents[2] / "benchmarks" / "pathx_memory.py"


def load():
    spec = importlib.util.spec_from_file_location("lion_bench_pathx_memory", BENCH)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_step_is_measured_in_a_fresh_process():
    bench = load()
    result = bench.measure({"length": 64, "batch": 1, "variant": "s", "mode": "chunk", "threads": 1})
    assert "error" not in result, result
    assert result["peak_mb"] >= result["base_mb"] > 0
    assert result["params"] > 500_000 and result["seconds"] > 0


def test_failure_is_reported_not_raised():
    bench = load()
    result = bench.measure({"length": 64, "batch": 1, "variant": "s", "mode": "sideways", "threads": 1})
    assert "error" in result

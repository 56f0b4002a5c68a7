"""update_readme.py rebuilds the README's benchmark block from the committed result tables, and only that block."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load():
    spec = importlib.util.spec_from_file_location("lion_bench_update_readme", BENCH / "update_readme.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def test_block_is_rebuilt_from_results(tmp_path: Path) -> None:
    mod = _load()
    forms_md = (BENCH / "results" / "forms.md").read_text()
    models_md = (BENCH / "results" / "models.md").read_text()
    readme = tmp_path / "README.md"
    readme.write_text(f"# title\n\nbefore\n\n{mod.START}\nstale numbers\n{mod.END}\n\nafter\n")
    assert mod.main(["--results", str(BENCH / "results"), "--readme", str(readme)]) == 0
    text = readme.read_text()
    assert "stale numbers" not in text
    assert text.startswith("# title\n\nbefore\n\n") and text.endswith("\n\nafter\n")
    block = text.split(mod.START)[1].split(mod.END)[0]
    # Every row of the forms targets table and of the training table is copied verbatim.
    targets = forms_md.split("## Targets")[1]
    for row in [line for line in targets.splitlines() if line.startswith("| chunk")]:
        assert row in block
    training = models_md.split("## Training-step time")[1].split("##")[0]
    for row in [line for line in training.splitlines() if line.startswith("| vision")]:
        assert row in block
    assert not mod.update(readme, mod.build(forms_md, models_md))  # idempotent


def test_missing_markers_or_sections_are_errors(tmp_path: Path) -> None:
    mod = _load()
    readme = tmp_path / "README.md"
    readme.write_text("no markers here\n")
    with pytest.raises(ValueError, match="markers"):
        mod.update(readme, ["x"])
    with pytest.raises(ValueError, match="no section"):
        mod.build("# LION forms benchmark\n\nline\n", "# LION models benchmark\n")

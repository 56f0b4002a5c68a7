"""`lion showcase --quick`: both models train, select on validation, and report test accuracy apart."""

from __future__ import annotations

import json

from lion_attn.train.cli import main


def test_quick_showcase(tmp_path, capsys):
    out = tmp_path / "showcase"
    assert main(["showcase", "--quick", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "test: 256 images, once, with the checkpoint selected on 256 validation images" in printed
    summary = json.loads((out / "showcase.json").read_text())
    for key in ("lion", "softmax"):
        run = summary[key]
        assert 0 <= run["test_accuracy"] <= 1 and 0 <= run["best"] <= 1
        # The trainer evaluated the test set once, with the checkpoint chosen on validation.
        test = json.loads((out / key / "test.json").read_text())
        assert test["samples"] == 256 and test["metrics"]["accuracy"] == run["test_accuracy"]
    assert 0 <= summary["logistic_regression"] <= 1
    assert set(summary["eval"]["modes"]) == {"parallel", "chunk", "recurrent"}

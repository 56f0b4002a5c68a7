"""Smoke tests of the benchmark scripts: each runs end to end at a toy size and writes its results."""

from __future__ import annotations

import importlib.util
import json
import sys
from pathlib import Path

import pytest
import torch

BENCH = Path(__file__).resolve().parents[2] / "benchmarks"


def _load(name: str):
    spec = importlib.util.spec_from_file_location(f"lion_bench_{name}", BENCH / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture(scope="module")
def forms():
    return _load("forms")


@pytest.fixture(scope="module")
def models():
    return _load("models")


def test_forms_quick_sweep_writes_results(forms, tmp_path):
    rc = forms.main(["--quick", "--T", "64", "--out", str(tmp_path)])
    assert rc == 0
    data = json.loads((tmp_path / "forms.json").read_text())
    records = data["records"]
    # 3 LION forms x (D, S) + LIT's one closed form + SDPA, 2 passes; every one checked against float64 and timed.
    assert len(records) == 16
    assert {(r["form"], r["variant"]) for r in records if r["variant"] == "lit"} == {("closed", "lit")}
    assert all(r["status"] == "ok" for r in records), [r for r in records if r["status"] != "ok"]
    assert all(max(r["errors"].values()) < 1e-3 and r["median_s"] > 0 for r in records)
    assert {"dq", "dk", "dv", "dg"} <= set(
        next(r for r in records if r["variant"] == "s" and r["pass"] == "fwdbwd")["errors"]
    )
    assert data["meta"]["matmul_gflops"] > 0 and data["meta"]["machine"]["torch"] == torch.__version__
    assert {t["status"] for t in data["targets"]} <= {"pass", "FAIL", "n/a", "info"}
    text = (tmp_path / "forms.md").read_text()
    assert "## Targets" in text and "| closed form (all modes) | lit |" in text
    assert "| parallel | lit |" not in text and "| chunk | lit |" not in text
    assert (tmp_path / "forms.png").stat().st_size > 10_000


def test_forms_fresh_process_measures_memory(forms, tmp_path):
    rc = forms.main(["--quick", "--fresh", "--T", "256", "--forms", "chunk", "--variants", "s", "--passes", "fwdbwd",
                     "--out", str(tmp_path)])  # fmt: skip
    assert rc == 0
    (r,) = json.loads((tmp_path / "forms.json").read_text())["records"]
    assert r["status"] == "ok" and r["process"] == "fresh"
    assert r["peak_bytes"] >= r["rss_inputs_bytes"] >= r["rss_idle_bytes"] > 0
    assert r["extra_bytes"] == r["peak_bytes"] - r["rss_inputs_bytes"]


def test_forms_refuses_a_case_that_disagrees(forms, tmp_path):
    rc = forms.main(["--quick", "--T", "64", "--forms", "chunk", "--variants", "d", "--passes", "fwd", "--rtol", "0",
                     "--out", str(tmp_path)])  # fmt: skip
    assert rc == 1
    (r,) = json.loads((tmp_path / "forms.json").read_text())["records"]
    assert r["status"] == "failed" and "median_s" not in r and "peak_bytes" not in r


def test_forms_reference_catches_a_wrong_output(forms):
    spec = {"form": "parallel", "variant": "s", "pass": "fwd", "B": 1, "T": 50, "H": 2, "K": 8, "V": 8,
            "chunk_size": 16, "seed": 0}  # fmt: skip
    x = forms.make_inputs(spec, 50, 0)
    y = forms.call_op(spec, x)
    assert forms.check_case(spec, x, y)["out"] < 1e-5
    assert forms.check_case(spec, x, y * 1.01)["out"] > 1e-3


def test_forms_gate_is_the_literal_reference(forms, monkeypatch):
    """The gate's LION reference is lion_attn.ops.naive: a wrong reference makes every LION case disagree."""
    from lion_attn.ops import naive

    spec = {"form": "chunk", "variant": "d", "pass": "fwdbwd", "B": 1, "T": 40, "H": 2, "K": 4, "V": 4,
            "chunk_size": 8, "seed": 0}  # fmt: skip
    x = forms.make_inputs(spec, 40, 0)
    y = forms.call_op(spec, x)
    errors = forms.check_case(spec, x, y)
    assert set(errors) == {"out", "dq", "dk", "dv", "dg_gamma"} and max(errors.values()) < 1e-5
    real = naive.naive_parallel
    monkeypatch.setattr(naive, "naive_parallel", lambda *a, **kw: real(*a, **kw) * 1.01)
    assert forms.check_case(spec, x, forms.call_op(spec, x))["out"] > 1e-3


def test_lit_modes_are_one_closed_form(forms):
    """Why LIT is measured once: its three modes return bit-identical outputs (one code path)."""
    from lion_attn.ops import lion_attention

    spec = {"form": "closed", "variant": "lit", "pass": "fwd", "B": 2, "T": 70, "H": 2, "K": 8, "V": 8,
            "chunk_size": 16, "seed": 0}  # fmt: skip
    x = forms.make_inputs(spec, 70, 0)
    outs = [lion_attention(x["q"], x["k"], x["v"], mode=m, chunk_size=16) for m in ("parallel", "chunk", "recurrent")]
    assert torch.equal(outs[0], outs[1]) and torch.equal(outs[0], outs[2])


def test_forms_bfloat16_runs_and_is_gated(forms, tmp_path):
    rc = forms.main(["--quick", "--T", "48", "--dtype", "bfloat16", "--device", "auto", "--forms", "chunk,sdpa",
                     "--variants", "s", "--passes", "fwdbwd", "--out", str(tmp_path)])  # fmt: skip
    assert rc == 0
    data = json.loads((tmp_path / "forms.json").read_text())
    assert data["meta"]["dtype"] == "bfloat16" and data["meta"]["args"]["rtol"] == 3e-2
    records = data["records"]
    assert [(r["form"], r["status"]) for r in records] == [("chunk", "ok"), ("sdpa", "ok")]
    # bf16 errors are real (not fp32's ~1e-7) and within the bf16 gate.
    assert all(1e-4 < max(r["errors"].values()) < 3e-2 for r in records)
    assert "bfloat16" in (tmp_path / "forms.md").read_text()


def test_device_option(forms):
    assert forms.parse_args(["--quick", "--device", "cpu"]).device == "cpu"
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert forms.parse_args(["--quick", "--device", "auto"]).device == expected
    if not torch.cuda.is_available():
        with pytest.raises(SystemExit, match="no CUDA"):
            forms.parse_args(["--device", "cuda"])


def test_forms_flop_counts(forms):
    spec = {
        "form": "chunk",
        "variant": "d",
        "pass": "fwd",
        "B": 1,
        "T": 4096,
        "H": 8,
        "K": 64,
        "V": 64,
        "chunk_size": 64,
    }
    per_head = 2 * 4096 * 64 * (64 + 65) + 8 * 4096 * 64 * 65
    assert forms.useful_flops(spec) == 8 * per_head
    assert forms.useful_flops({**spec, "pass": "fwdbwd"}) == 3 * 8 * per_head
    sdpa = {**spec, "form": "sdpa", "variant": "softmax"}
    assert forms.useful_flops(sdpa) == 8 * 2 * 4096**2 * 128


def test_forms_chunk_size_sweep(forms, tmp_path):
    rc = forms.main(["--quick", "--chunk-sizes", "8,32", "--T", "64", "--passes", "fwd", "--out", str(tmp_path)])
    assert rc == 0
    text = (tmp_path / "forms_chunk_sizes.md").read_text()
    assert "C=8" in text and "C=32" in text
    records = json.loads((tmp_path / "forms_chunk_sizes.json").read_text())["records"]
    assert {r["chunk_size"] for r in records} == {8, 32} and {r["form"] for r in records} == {"chunk"}


def test_models_quick_writes_ratios_and_resolution_table(models, tmp_path):
    rc = models.main(["--quick", "--repeats", "1", "--out", str(tmp_path)])
    assert rc == 0
    data = json.loads((tmp_path / "models.json").read_text())
    vision, mlm = data["train"]
    assert set(vision["ratio_to_softmax"]) == {"softmax", "no-mix", "lit", "d", "s", "dnat", "snat"}
    assert set(mlm["ratio_to_softmax"]) == {"softmax", "no-mix", "lit", "d", "s"}
    assert vision["ratio_to_softmax"]["softmax"] == 1.0
    assert all(r["status"] == "ok" for r in data["resolution"])
    assert {r["mode"] for r in data["resolution"]} == {"parallel", "chunk", "recurrent", "softmax"}
    text = (tmp_path / "models.md").read_text()
    assert "x0.73" in text and "forms agree" in text
    assert (tmp_path / "models_resolution.png").exists()
    # Every LION model's forms were compared before it was timed.
    assert set(vision["forms_agreement"]) == {"lit", "d", "s", "dnat", "snat"}
    assert all(max(e.values()) < 1e-3 for e in vision["forms_agreement"].values()) and not vision["failed"]


def test_models_numbers_are_gated_on_the_forms_agreeing(models):
    import argparse

    group = {"group": "gate", "kind": "vision", "res": 28, "batch": 2,
             "models": {"softmax": "softmax_vit_micro_patch4_28", "d": "lion_d_vit_micro_patch4_28"}}  # fmt: skip
    args = argparse.Namespace(device="cpu", dtype="float32", seed=0, repeats=1, repeats_mlm=1, warmup=0)
    # Round-off differences between the forms exceed a tolerance of 0: the model is reported failed, not timed.
    result = models.run_train_group(group, argparse.Namespace(**vars(args), forms_rtol=0.0))
    assert "d" in result["failed"] and "d" not in result["median_s"] and "softmax" in result["median_s"]
    assert "FAILED" in "\n".join(models.train_markdown([result]))
    result = models.run_train_group(group, argparse.Namespace(**vars(args), forms_rtol=1e-3))
    assert not result["failed"] and "d" in result["median_s"]
    assert 0 < max(result["forms_agreement"]["d"].values()) < 1e-5


def test_models_a_failing_training_step_is_reported(models, monkeypatch):
    import argparse

    from lion_attn.layers import LionAttention

    train = sys.modules["models_train"]
    real = train.train_step

    def step(model, *args, **kwargs):
        if any(isinstance(m, LionAttention) for m in model.modules()):
            raise RuntimeError("expected scalar type Float but found BFloat16")
        return real(model, *args, **kwargs)

    monkeypatch.setattr(train, "train_step", step)
    group = {"group": "raise", "kind": "vision", "res": 28, "batch": 2,
             "models": {"softmax": "softmax_vit_micro_patch4_28", "s": "lion_s_vit_micro_patch4_28"}}  # fmt: skip
    args = argparse.Namespace(
        device="cpu", dtype="float32", seed=0, repeats=1, repeats_mlm=1, warmup=0, forms_rtol=1e-3
    )
    result = models.run_train_group(group, args)
    assert "BFloat16" in result["failed"]["s"] and set(result["median_s"]) == {"softmax"}
    assert "| s | | FAILED |" in "\n".join(models.train_markdown([result]))


def test_models_forms_agreement_sees_a_broken_form(models):
    from lion_attn.models import create_model

    torch.manual_seed(0)
    model = create_model("lion_s_vit_micro_patch4_28")
    batch = {"images": torch.randn(2, model.config.in_chans, 28, 28)}
    assert max(models.forms_agreement(model, batch, "vision").values()) < 1e-5
    assert model.training  # the mode and the parallel form are restored
    layer = next(m for m in model.modules() if hasattr(m, "set_mode"))
    honest = layer.forward
    layer.forward = lambda x, *a, **kw: honest(x, *a, **kw) * (1.1 if layer.mode == "recurrent" else 1.0)
    errors = models.forms_agreement(model, batch, "vision")
    assert errors["chunk"] < 1e-5 and errors["recurrent"] > 1e-3


def test_models_lit_resolution_is_one_closed_form(models):
    args = models.parse_args(["--quick", "--parts", "resolution", "--res-variant", "lit"])
    modes = {c["mode"] for c in models.resolution_cases(args)}
    assert modes == {"closed", "softmax"}


def test_models_memory_growth_fit(models):
    linear = [{"mode": "chunk", "status": "ok", "patches": n, "extra_bytes": 1000 + 50 * n} for n in (196, 784, 4096)]
    quad = [{"mode": "parallel", "status": "ok", "patches": n, "extra_bytes": 3 * n * n} for n in (196, 784, 4096)]
    rows = {row["mode"]: row for row in models.memory_growth(linear + quad)}
    assert rows["chunk"]["linear"] and rows["chunk"]["slope"] <= 1.0
    assert rows["parallel"]["slope"] == pytest.approx(2.0)


def test_no_mix_floor_keeps_every_token_to_itself(models):
    from lion_attn.layers import SoftmaxAttention

    torch.manual_seed(0)
    model = torch.nn.Sequential(SoftmaxAttention(16, 2))
    x = torch.randn(1, 5, 16)
    mixed = model(x)
    models.without_token_mixing(model)
    alone = model(x)
    x2 = x.clone()
    x2[:, 1:] = torch.randn(1, 4, 16)
    # Token 0's output no longer depends on the other tokens, and it is the projected value.
    assert torch.allclose(model(x2)[:, 0], alone[:, 0])
    layer = model[0]
    assert torch.allclose(alone, layer.proj(layer.qkv(x)[..., 32:]))
    assert not torch.allclose(mixed, alone)
    with pytest.raises(ValueError, match="SoftmaxAttention"):
        models.without_token_mixing(torch.nn.Linear(2, 2))


def test_models_group_options(models):
    args = models.parse_args(["--vision-model", "vit_base_patch16_224", "--batch-vision", "64", "--mlm-lengths", ""])
    (group,) = models.train_groups(args)
    assert group["res"] == 224 and group["batch"] == 64
    assert group["models"]["snat"] == "lion_snat_vit_base_patch16_224"
    assert group["models"]["softmax"] == "softmax_vit_base_patch16_224"
    lengths = [g["length"] for g in models.train_groups(models.parse_args(["--mlm-lengths", "256"])) if "length" in g]
    assert lengths == [256]

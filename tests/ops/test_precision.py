"""Precision at length and in bfloat16: no NaN or inf at T = 16384 in float32; bf16 inputs stay close to float64.

Spec section 2: the mask must come from a stable segment sum (every exponent <= 0), otherwise float32 under- or
overflows long before T = 16384; section 3: decay maths stays in fp32 under bf16.
"""

from __future__ import annotations

import functools

import pytest
import torch

from .reference import ref_lion
from .utils import FORMS, TOL, VARIANTS, Case, assert_all_close, assert_close, form_fn, make_case, run

LONG = 16384


@functools.lru_cache(maxsize=8)
def long_case(variant: str) -> Case:
    """B = 1, H = 2, K = V = 8; for LION-S a mix of near-1 and moderate decays so memory reaches far."""
    case = make_case(variant, LONG, batch=1, heads=2, dim_k=8, dim_v=8, decay="moderate", seed=51)
    if case.g is not None:
        gen = torch.Generator().manual_seed(52)
        long_memory = torch.rand(case.g.shape, generator=gen) < 0.7
        case.g = torch.where(long_memory, -1e-4 * torch.rand(case.g.shape, generator=gen, dtype=torch.float64), case.g)
    if case.g_gamma is not None:
        case.g_gamma = torch.tensor([-1e-4, -0.05], dtype=torch.float64)
    return case


def _assert_finite(name: str, out: torch.Tensor, grads: dict[str, torch.Tensor]) -> None:
    assert torch.isfinite(out).all(), f"{name}: non-finite output"
    for key, grad in grads.items():
        assert torch.isfinite(grad).all(), f"{name}: non-finite d{key}"


@pytest.mark.parametrize("variant", [pytest.param(v, marks=() if v == "s" else pytest.mark.slow) for v in VARIANTS])
def test_long_chunk_float32_matches_float64(variant: str) -> None:
    case = long_case(variant)
    fn = form_fn("chunk")
    out32, grads32 = run(fn, case, torch.float32, chunk_size=64)
    _assert_finite("chunk f32", out32, grads32)
    out64, grads64 = run(fn, case, torch.float64, chunk_size=64)
    assert_close("chunk f32 vs f64", out32, out64, TOL[torch.float32])
    assert_all_close("chunk f32 vs f64", grads32, grads64, TOL[torch.float32])


@pytest.mark.parametrize(
    ("form", "variant"),
    [
        pytest.param(f, v, marks=() if (f, v) == ("recurrent", "s") else pytest.mark.slow)
        for f in FORMS
        if f != "chunk"
        for v in VARIANTS
    ],
)
def test_long_forms_are_finite_and_agree_with_chunk(form: str, variant: str) -> None:
    case = long_case(variant)
    out, grads = run(form_fn(form), case, torch.float32)
    _assert_finite(f"{form} f32", out, grads)
    assert_close(f"{form} f32 vs chunk f64", out, long_chunk_float64(variant), TOL[torch.float32])


@functools.lru_cache(maxsize=4)
def long_chunk_float64(variant: str) -> torch.Tensor:
    """The chunk form's float64 output on ``long_case(variant)``."""
    return run(form_fn("chunk"), long_case(variant), torch.float64, grad=False)[0]


@pytest.mark.parametrize(("form", "chunk"), [("parallel", None), ("recurrent", None), ("chunk", 16)], ids=str)
@pytest.mark.parametrize("variant", VARIANTS)
def test_bfloat16_inputs(form: str, chunk: int | None, variant: str) -> None:
    case = make_case(variant, 65, seed=61)
    # Compare against the reference on the bf16-rounded inputs, so only the op's own bf16 error is measured.
    rounded = Case(
        *(x.to(torch.bfloat16).to(torch.float64) for x in (case.q, case.k, case.v)), case.g, case.g_gamma, case.dy
    )
    ref_out, ref_grads = run(ref_lion, rounded, torch.float64)
    kwargs = {} if chunk is None else {"chunk_size": chunk}
    out, grads = run(form_fn(form), rounded, torch.bfloat16, **kwargs)
    assert out.dtype == torch.bfloat16
    assert_close("bf16 output", out, ref_out, 2e-2)
    _assert_finite("bf16", out, grads)
    for name in ("q", "k", "v"):
        assert grads[name].dtype == torch.bfloat16, f"d{name} is {grads[name].dtype}"
    assert_all_close("bf16", grads, ref_grads, 5e-2)


@pytest.mark.slow
@pytest.mark.parametrize("form", FORMS)
def test_long_float32_moderate_per_token_decays(form: str) -> None:
    # T = 8192 with every log-decay in [-1, -0.1]: the prefix sums reach ~ -4500, where float32 spacing is ~5e-4.
    # A mask built from differences of float32 prefix sums over the whole sequence loses that much accuracy.
    case = make_case("s", 8192, batch=1, heads=1, dim_k=8, dim_v=8, decay="moderate", seed=9)
    expected = run(form_fn("recurrent"), case, torch.float64, grad=False)[0]
    out = run(form_fn(form), case, torch.float32, grad=False)[0]
    assert_close(f"{form} f32 vs recurrent f64", out, expected, TOL[torch.float32])

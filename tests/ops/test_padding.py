"""Padding masks and packed sequences (docs/maths.md, "Padding, packing and resets"): a padded or packed sequence
gives what it gives alone.

Pads carry garbage queries, keys, values and strong log-decays, so an op that forgets to zero a padded key or to
reset a padded log-decay to 0 is caught.
"""

from __future__ import annotations

import functools

import pytest
import torch

from .reference import ref_lion_packed, ref_lion_padded
from .utils import TOL, VARIANTS, Case, assert_all_close, assert_close, form_fn, make_case, run

FORM_CHUNKS = [("parallel", None), ("recurrent", None), ("chunk", 1), ("chunk", 3), ("chunk", 64)]
FORM_IDS = ["parallel", "recurrent", "chunk1", "chunk3", "chunk64"]
SEQLEN = 13
MASK = torch.tensor(
    [
        [False] * 3 + [True] * 10,  # left padding
        [True] * 9 + [False] * 4,  # right padding
        [True, True, False, False, True, True, True, False, True, True, False, True, True],  # interior
        [True] * SEQLEN,  # none
    ]
)
SEGMENTS = {
    "mixed": [0, 1, 6, 7, 20, 21],  # lengths 1, 5, 1, 13, 1
    "one": [0, 21],
    "singletons": list(range(22)),
}


def _kwargs(chunk: int | None, **extra: object) -> dict:
    return extra if chunk is None else {"chunk_size": chunk, **extra}


@functools.lru_cache(maxsize=64)
def padded_case(variant: str, normalize: bool) -> tuple[Case, torch.Tensor, dict]:
    """Inputs with garbage at pads, and the reference output and gradients."""
    case = make_case(variant, SEQLEN, batch=MASK.shape[0], positive=normalize, seed=31)
    if case.g is not None:
        pad_decay = torch.where(torch.arange(SEQLEN) % 2 == 0, -30.0, -2.0).to(torch.float64)
        case.g = torch.where(MASK.unsqueeze(-1), case.g, pad_decay.view(1, SEQLEN, 1))
    out, grads = run(
        lambda *a, **kw: ref_lion_padded(*a, attention_mask=MASK, **kw), case, torch.float64, normalize=normalize
    )
    return case, out.detach(), grads


@functools.lru_cache(maxsize=64)
def packed_case(variant: str, normalize: bool, layout: str) -> tuple[Case, torch.Tensor, dict]:
    """One packed batch of 21 tokens, and the reference output and gradients (segments run alone)."""
    case = make_case(variant, 21, batch=1, positive=normalize, seed=41)
    cu = SEGMENTS[layout]
    out, grads = run(
        lambda *a, **kw: ref_lion_packed(*a, cu_seqlens=cu, **kw), case, torch.float64, normalize=normalize
    )
    return case, out.detach(), grads


def _padding_params() -> list:
    params = []
    for dname, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        for (form, chunk), fid in zip(FORM_CHUNKS, FORM_IDS, strict=True):
            for variant in VARIANTS:
                for normalize in (True, False):
                    fast = dname == "f64" or (normalize and chunk != 1)
                    params.append(
                        pytest.param(
                            form,
                            chunk,
                            variant,
                            normalize,
                            dtype,
                            id=f"{dname}-{fid}-{variant}-{'norm' if normalize else 'raw'}",
                            marks=() if fast else pytest.mark.slow,
                        )
                    )
    return params


@pytest.mark.parametrize(("form", "chunk", "variant", "normalize", "dtype"), _padding_params())
def test_padding_equals_unpadded_reference(
    device: str, form: str, chunk: int | None, variant: str, normalize: bool, dtype: torch.dtype
) -> None:
    case, ref_out, ref_grads = padded_case(variant, normalize)
    out, grads = run(
        form_fn(form), case, dtype, **_kwargs(chunk, normalize=normalize, attention_mask=MASK), device=device
    )
    assert out.shape == ref_out.shape
    pads = out[~MASK]
    assert (pads == 0).all(), f"outputs at pads are not exactly 0 (max |y| = {pads.abs().max().item():.3e})"
    assert_close("output", out, ref_out, TOL[dtype])
    assert_all_close("padded", grads, ref_grads, TOL[dtype])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS, ids=FORM_IDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_padded_row_equals_same_op_on_the_row_alone(device: str, form: str, chunk: int | None, variant: str) -> None:
    # The op against itself in float32: each padded row against the same op on that row with its pads removed.
    case, _, _ = padded_case(variant, True)
    kwargs = _kwargs(chunk)
    padded, _ = run(form_fn(form), case, torch.float32, grad=False, attention_mask=MASK, **kwargs, device=device)
    for row in range(MASK.shape[0]):
        idx = MASK[row].nonzero().flatten()
        alone = Case(
            case.q[row : row + 1, idx],
            case.k[row : row + 1, idx],
            case.v[row : row + 1, idx],
            None if case.g is None else case.g[row : row + 1, idx],
            case.g_gamma,
        )
        out, _ = run(form_fn(form), alone, torch.float32, grad=False, **kwargs, device=device)
        assert_close(f"row {row}", padded[row : row + 1, idx], out, 1e-5)


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS, ids=FORM_IDS)
@pytest.mark.parametrize("variant", VARIANTS)
def test_fully_padded_row_gives_zeros(device: str, form: str, chunk: int | None, variant: str) -> None:
    mask = torch.tensor([[False] * 6, [False, True, True, True, False, True]])
    case = make_case(variant, 6, batch=2, seed=33)
    ref_out, ref_grads = run(lambda *a, **kw: ref_lion_padded(*a, attention_mask=mask, **kw), case, torch.float64)
    out, grads = run(form_fn(form), case, torch.float64, attention_mask=mask, **_kwargs(chunk), device=device)
    assert (out[0] == 0).all()
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("all-pad", grads, ref_grads, TOL[torch.float64])


def _packed_params() -> list:
    params = []
    for dname, dtype in (("f64", torch.float64), ("f32", torch.float32)):
        for layout in SEGMENTS:
            for (form, chunk), fid in zip(FORM_CHUNKS, FORM_IDS, strict=True):
                for variant in VARIANTS:
                    for normalize in (True, False):
                        fast = (dname == "f64" and (layout == "mixed" or normalize)) or (
                            layout == "mixed" and normalize and chunk != 1
                        )
                        params.append(
                            pytest.param(
                                layout,
                                form,
                                chunk,
                                variant,
                                normalize,
                                dtype,
                                id=f"{dname}-{layout}-{fid}-{variant}-{'norm' if normalize else 'raw'}",
                                marks=() if fast else pytest.mark.slow,
                            )
                        )
    return params


@pytest.mark.parametrize(("layout", "form", "chunk", "variant", "normalize", "dtype"), _packed_params())
def test_packed_equals_separate_runs(
    device: str, layout: str, form: str, chunk: int | None, variant: str, normalize: bool, dtype: torch.dtype
) -> None:
    case, ref_out, ref_grads = packed_case(variant, normalize, layout)
    cu = torch.tensor(SEGMENTS[layout], dtype=torch.int32)
    out, grads = run(form_fn(form), case, dtype, **_kwargs(chunk, normalize=normalize, cu_seqlens=cu), device=device)
    assert_close("output", out, ref_out, TOL[dtype])
    # Normalised length-1 segments have O(eps) dq, dk (and no decay gradient): measure against the mixed layout.
    floors = packed_case(variant, normalize, "mixed")[2]
    assert_all_close("packed", grads, ref_grads, TOL[dtype], floors)


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS, ids=FORM_IDS)
@pytest.mark.parametrize("cu_dtype", [torch.int32, torch.int64], ids=["int32", "int64"])
def test_packed_accepts_int32_and_int64_offsets(
    device: str, form: str, chunk: int | None, cu_dtype: torch.dtype
) -> None:
    case, ref_out, _ = packed_case("s", True, "mixed")
    cu = torch.tensor(SEGMENTS["mixed"], dtype=cu_dtype)
    out, _ = run(form_fn(form), case, torch.float64, grad=False, cu_seqlens=cu, **_kwargs(chunk), device=device)
    assert_close("output", out, ref_out, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS, ids=FORM_IDS)
def test_minus_inf_log_decay_at_pads_is_ignored(device: str, form: str, chunk: int | None) -> None:
    # Whatever sits at a pad, even a -inf log-decay, must not reach real tokens (nor make a NaN gradient).
    case, ref_out, ref_grads = padded_case("s", True)
    case = Case(case.q, case.k, case.v, torch.where(MASK.unsqueeze(-1), case.g, -float("inf")), None, case.dy)
    out, grads = run(form_fn(form), case, torch.float64, attention_mask=MASK, **_kwargs(chunk), device=device)
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("padded", grads, ref_grads, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS, ids=FORM_IDS)
def test_padding_and_packing_combined_with_hard_resets(device: str, form: str, chunk: int | None) -> None:
    # -inf log-decays at real tokens (all heads) together with pads, and inside a packed segment.
    case, _, _ = padded_case("s", True)
    g = case.g.clone()
    g[0, 5] = g[2, 4] = g[2, 8] = g[3, 12] = -float("inf")
    case = Case(case.q, case.k, case.v, g, None, case.dy)
    ref_out, ref_grads = run(lambda *a, **kw: ref_lion_padded(*a, attention_mask=MASK, **kw), case, torch.float64)
    out, grads = run(form_fn(form), case, torch.float64, attention_mask=MASK, **_kwargs(chunk), device=device)
    assert_close("padded output", out, ref_out, TOL[torch.float64])
    assert_all_close("padded", grads, ref_grads, TOL[torch.float64])

    case, _, _ = packed_case("s", True, "mixed")
    g = case.g.clone()
    g[0, 3] = g[0, 12] = -float("inf")
    case = Case(case.q, case.k, case.v, g, None, case.dy)
    cu = SEGMENTS["mixed"]
    ref_out, ref_grads = run(lambda *a, **kw: ref_lion_packed(*a, cu_seqlens=cu, **kw), case, torch.float64)
    out, grads = run(form_fn(form), case, torch.float64, cu_seqlens=torch.tensor(cu), **_kwargs(chunk), device=device)
    assert_close("packed output", out, ref_out, TOL[torch.float64])
    assert_all_close("packed", grads, ref_grads, TOL[torch.float64])

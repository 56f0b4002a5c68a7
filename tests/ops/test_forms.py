"""Every form and variant of the LION op against the float64 reference: outputs and gradients of every input.

Spec sections 2, 4 and 5 (``shared/spec/lion.md``): the parallel, recurrent and chunkwise forms give the same numbers.
The default run covers the whole T x chunk-size grid for float64 outputs and a representative subset elsewhere;
``-m slow`` runs the rest.
"""

from __future__ import annotations

import re

import pytest
import torch

from .utils import FORMS, TOL, VARIANTS, assert_all_close, assert_close, form_fn, make_case, reference_case, run

TS = (1, 2, 7, 63, 64, 65, 257)
DTYPES = {"f64": torch.float64, "f32": torch.float32}


def _form_chunks(seqlen: int) -> list[tuple[str, int | None]]:
    """Parallel and recurrent once; chunk with sizes 1, 3, 64 and one larger than T."""
    return [("parallel", None), ("recurrent", None)] + [("chunk", c) for c in (1, 3, 64, seqlen + 5)]


def _fid(form: str, chunk: int | None) -> str:
    return form if chunk is None else f"chunk{chunk}"


def _kwargs(chunk: int | None, **extra: object) -> dict:
    return extra if chunk is None else {"chunk_size": chunk, **extra}


def _output_params() -> list:
    params = []
    for dname in DTYPES:
        for seqlen in TS:
            for form, chunk in _form_chunks(seqlen):
                for variant in VARIANTS:
                    for normalize in (True, False):
                        fast = dname == "f64" or seqlen in (2, 65, 257)
                        params.append(
                            pytest.param(
                                form,
                                chunk,
                                variant,
                                seqlen,
                                normalize,
                                dname,
                                id=f"{dname}-T{seqlen}-{_fid(form, chunk)}-{variant}-{'norm' if normalize else 'raw'}",
                                marks=() if fast else pytest.mark.slow,
                            )
                        )
    return params


def _grad_fast(form: str, chunk: int | None, seqlen: int, normalize: bool) -> bool:
    if seqlen in (1, 7, 65):
        return form != "chunk" or (seqlen, chunk) in {(1, 1), (7, 3), (7, 12)} or seqlen == 65
    return seqlen == 257 and normalize and chunk in (None, 64) and form != "recurrent"


def _grad_params() -> list:
    params = []
    for dname in DTYPES:
        for seqlen in TS:
            for form, chunk in _form_chunks(seqlen):
                for variant in VARIANTS:
                    for normalize in (True, False):
                        fast = _grad_fast(form, chunk, seqlen, normalize)
                        params.append(
                            pytest.param(
                                form,
                                chunk,
                                variant,
                                seqlen,
                                normalize,
                                dname,
                                id=f"{dname}-T{seqlen}-{_fid(form, chunk)}-{variant}-{'norm' if normalize else 'raw'}",
                                marks=() if fast else pytest.mark.slow,
                            )
                        )
    return params


@pytest.mark.parametrize(("form", "chunk", "variant", "seqlen", "normalize", "dname"), _output_params())
def test_output_matches_reference(
    device: str, form: str, chunk: int | None, variant: str, seqlen: int, normalize: bool, dname: str
) -> None:
    dtype = DTYPES[dname]
    case, ref_out, _ = reference_case(variant, seqlen, normalize=normalize)
    out, _ = run(form_fn(form), case, dtype, grad=False, **_kwargs(chunk, normalize=normalize), device=device)
    assert out.dtype == dtype
    assert_close("output", out, ref_out, TOL[dtype])


@pytest.mark.parametrize(("form", "chunk", "variant", "seqlen", "normalize", "dname"), _grad_params())
def test_gradients_match_reference(
    device: str, form: str, chunk: int | None, variant: str, seqlen: int, normalize: bool, dname: str
) -> None:
    dtype = DTYPES[dname]
    case, ref_out, ref_grads = reference_case(variant, seqlen, normalize=normalize)
    out, grads = run(form_fn(form), case, dtype, **_kwargs(chunk, normalize=normalize), device=device)
    assert_close("output", out, ref_out, TOL[dtype])
    # At T = 1 the decay gradient is exactly 0 (g_0 is never used) and, normalised, dq and dk are O(eps) sums of
    # cancelling terms: measure those against the size of a T = 65 gradient. Un-normalised dq, dk, dv do not cancel.
    floors = reference_case(variant, 65, normalize=normalize)[2]
    if not normalize:
        floors = {n: x for n, x in floors.items() if n in ("g", "g_gamma")}
    assert_all_close(dname, grads, ref_grads, TOL[dtype], floors)
    decay_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    for name, grad in grads.items():
        assert grad.dtype == (dtype if name in ("q", "k", "v") else decay_dtype), name


FORM_CHUNKS_SMALL = [("parallel", None), ("recurrent", None), ("chunk", 3), ("chunk", 16)]


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("normalize", [True, False], ids=["norm", "raw"])
@pytest.mark.parametrize("dname", list(DTYPES))
def test_custom_scale(device: str, form: str, chunk: int | None, variant: str, normalize: bool, dname: str) -> None:
    dtype = DTYPES[dname]
    case, ref_out, ref_grads = reference_case(variant, 37, normalize=normalize, scale=0.37, eps=1e-2)
    out, grads = run(
        form_fn(form), case, dtype, **_kwargs(chunk, normalize=normalize, scale=0.37, eps=1e-2), device=device
    )
    assert_close("output", out, ref_out, TOL[dtype])
    assert_all_close(dname, grads, ref_grads, TOL[dtype])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", VARIANTS)
def test_eps_enters_every_form_identically(device: str, form: str, chunk: int | None, variant: str) -> None:
    # A large eps relative to the denominator makes any difference in where eps enters visible.
    case, ref_out, ref_grads = reference_case(variant, 33, eps=0.5, scale=0.05, seed=2)
    out, grads = run(form_fn(form), case, torch.float64, **_kwargs(chunk, eps=0.5, scale=0.05), device=device)
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("f64", grads, ref_grads, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "shape", [(1, 1, 8, 2), (3, 2, 2, 9), (1, 4, 16, 16)], ids=lambda s: "BHKV" + "-".join(map(str, s))
)
def test_shapes(device: str, form: str, chunk: int | None, variant: str, shape: tuple[int, int, int, int]) -> None:
    case, ref_out, ref_grads = reference_case(variant, 21, shape=shape, seed=1)
    out, grads = run(form_fn(form), case, torch.float64, **_kwargs(chunk), device=device)
    assert out.shape == (shape[0], 21, shape[1], shape[3])
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("f64", grads, ref_grads, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", ["d", "s"])
@pytest.mark.parametrize("decay", ["zero", "tiny", "moderate", "strong", "mix"])
@pytest.mark.parametrize("dname", list(DTYPES))
def test_decay_strength_sweep(device: str, form: str, chunk: int | None, variant: str, decay: str, dname: str) -> None:
    dtype = DTYPES[dname]
    case, ref_out, ref_grads = reference_case(variant, 40, decay=decay, seed=11)
    out, grads = run(form_fn(form), case, dtype, **_kwargs(chunk), device=device)
    assert_close(f"output ({decay})", out, ref_out, TOL[dtype])
    # Very strong decays leave every token alone: dq, dk are O(eps), sums of terms that cancel, so they are measured
    # against the gradient sizes of the moderate case. The decay gradient gets no such floor: it is measured against
    # its own size, so an all-zero decay gradient fails even where the true one is O(exp(-30)).
    floors = {n: x for n, x in reference_case(variant, 40, decay="moderate", seed=11)[2].items() if n in ("q", "k")}
    assert_all_close(f"{dname} ({decay})", grads, ref_grads, TOL[dtype], floors)
    for name in ("g", "g_gamma"):
        if name in ref_grads and ref_grads[name].abs().max() > 0:
            assert grads[name].abs().max() > 0, f"d{name} is all zero ({decay})"


def _hard_reset_case(seqlen: int, per_head: bool) -> tuple:
    from .reference import ref_lion

    case = make_case("s", seqlen, seed=12)
    g = case.g.clone()
    # -inf at position 0 (never used), at chunk boundaries for C = 3 (t = 3, 6) and inside chunks (t = 4, 10),
    # two consecutive resets and one at the last token; ``per_head`` puts some of them in one head only.
    heads = [1, 0, 2, 2, 1] if per_head else [slice(None)] * 5
    g[:, 0] = -float("inf")
    g[0, 3, :] = -float("inf")
    g[0, 4, heads[0]] = -float("inf")
    g[1, 6, heads[1]] = -float("inf")
    g[1, 10, heads[2]] = -float("inf")
    g[1, 11, heads[3]] = -float("inf")
    g[:, seqlen - 1, heads[4]] = -float("inf")
    case.g = g
    out, grads = run(ref_lion, case, torch.float64)
    return case, out.detach(), grads


HARD_RESET_FORMS = [*FORM_CHUNKS_SMALL, ("chunk", 1), ("chunk", 64)]


@pytest.mark.parametrize(("form", "chunk"), HARD_RESET_FORMS, ids=lambda x: str(x))
@pytest.mark.parametrize("dname", list(DTYPES))
def test_hard_resets_minus_inf_log_decay(device: str, form: str, chunk: int | None, dname: str) -> None:
    # Spec section 6: a -inf log-decay at a token (all heads) separates the sequence there, without NaN.
    dtype = DTYPES[dname]
    case, ref_out, ref_grads = _hard_reset_case(17, per_head=False)
    out, grads = run(form_fn(form), case, dtype, **_kwargs(chunk), device=device)
    assert_close("output", out, ref_out, TOL[dtype])
    assert_all_close(dname, grads, ref_grads, TOL[dtype], reference_case("s", 17, seed=12)[2])


@pytest.mark.parametrize(("form", "chunk"), HARD_RESET_FORMS, ids=lambda x: str(x))
def test_per_head_minus_inf_is_exact_or_rejected(device: str, form: str, chunk: int | None) -> None:
    # lambda = 0 in one head only lies outside the documented (0, 1] (docs/maths.md): the op may refuse it, naming
    # g, or get it right.
    case, ref_out, ref_grads = _hard_reset_case(17, per_head=True)
    try:
        out, grads = run(form_fn(form), case, torch.float64, **_kwargs(chunk), device=device)
    except ValueError as err:
        assert re.search(r"\bg\b", str(err)), f"the error does not name g: {err}"
        return
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("f64", grads, ref_grads, TOL[torch.float64], reference_case("s", 17, seed=12)[2])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
def test_lion_d_unit_decay_head(device: str, form: str, chunk: int | None) -> None:
    # One head with lambda = 1 exactly (LION-LIT inside LION-D), one ordinary, one very strong.
    from .reference import ref_lion

    case = make_case("d", 19, seed=13)
    case.g_gamma = torch.tensor([0.0, -0.3, -12.0], dtype=torch.float64)
    ref_out, ref_grads = run(ref_lion, case, torch.float64)
    out, grads = run(form_fn(form), case, torch.float64, **_kwargs(chunk), device=device)
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("f64", grads, ref_grads, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
def test_lion_d_zero_decay_is_exact_or_rejected(device: str, form: str, chunk: int | None) -> None:
    # g_gamma = -inf (lambda = 0, each token sees only itself) is outside (0, 1]: exact, or a ValueError naming it.
    from .reference import ref_lion

    case = make_case("d", 19, seed=13)
    case.g_gamma = torch.tensor([-float("inf"), -0.3, 0.0], dtype=torch.float64)
    ref_out, ref_grads = run(ref_lion, case, torch.float64)
    try:
        out, grads = run(form_fn(form), case, torch.float64, **_kwargs(chunk), device=device)
    except ValueError as err:
        assert "g_gamma" in str(err), f"the error does not name g_gamma: {err}"
        return
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("f64", grads, ref_grads, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", VARIANTS)
def test_non_contiguous_inputs_and_inputs_untouched(device: str, form: str, chunk: int | None, variant: str) -> None:
    case, ref_out, _ = reference_case(variant, 23, seed=5)
    # Same values, laid out head-first and viewed back: strides no longer match a contiguous [B, T, H, D].
    q, k, v = (x.to(device).transpose(1, 2).contiguous().transpose(1, 2) for x in (case.q, case.k, case.v))
    g = None if case.g is None else case.g.to(device).transpose(1, 2).contiguous().transpose(1, 2)
    g_gamma = None if case.g_gamma is None else case.g_gamma.to(device)
    assert not q.is_contiguous()
    before = [x.clone() for x in (q, k, v, g, g_gamma) if x is not None]
    out = form_fn(form)(q, k, v, g, g_gamma, **_kwargs(chunk))
    assert_close("output", out.cpu(), ref_out, TOL[torch.float64])
    after = [x for x in (q, k, v, g, g_gamma) if x is not None]
    for x, y in zip(before, after, strict=True):
        assert torch.equal(x, y), "the op modified an input in place"


@pytest.mark.parametrize("form", FORMS)
def test_forms_agree_with_each_other_float32(device: str, form: str) -> None:
    # Cross-form agreement without the reference, at a length the default reference grid does not reach.
    case = make_case("s", 300, batch=1, heads=2, decay="mix", seed=21)
    base, _ = run(form_fn("parallel"), case, torch.float32, grad=False, device=device)
    out, _ = (
        run(form_fn(form), case, torch.float32, grad=False, chunk_size=32, device=device)
        if form == "chunk"
        else run(form_fn(form), case, torch.float32, grad=False, device=device)
    )
    assert_close(f"{form} vs parallel", out, base, TOL[torch.float32])


@pytest.mark.parametrize(
    ("chunk", "variant"),
    [
        pytest.param(c, v, marks=() if v == "s" and c != 48 else pytest.mark.slow)
        for c in (48, 64, 256)
        for v in VARIANTS
    ],
)
def test_chunk_long_enough_to_span_many_chunks_and_blocks(device: str, chunk: int, variant: str) -> None:
    # T = 1100 with B H = 8 and large chunks: many chunks, a ragged last one, and enough work that an
    # implementation streaming over groups of chunks must cross group boundaries.
    case, ref_out, ref_grads = reference_case(variant, 1100, decay="mix", seed=17, shape=(2, 4, 16, 8))
    out, grads = run(form_fn("chunk"), case, torch.float64, chunk_size=chunk, device=device)
    assert_close("output", out, ref_out, TOL[torch.float64])
    assert_all_close("f64", grads, ref_grads, TOL[torch.float64])


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", ["d", "s"])
def test_gradient_when_only_some_inputs_require_it(device: str, form: str, chunk: int | None, variant: str) -> None:
    case, ref_out, ref_grads = reference_case(variant, 29, seed=19)
    fn = form_fn(form)
    inputs = {n: x.to(device) for n, x in case.named().items()}
    with torch.no_grad():
        out = fn(*(inputs.get(n) for n in ("q", "k", "v", "g", "g_gamma")), **_kwargs(chunk))
    assert_close("output under no_grad", out.cpu(), ref_out, TOL[torch.float64])
    for wanted in inputs:
        leaves = {n: x.clone().requires_grad_(n == wanted) for n, x in inputs.items()}
        out = fn(*(leaves.get(n) for n in ("q", "k", "v", "g", "g_gamma")), **_kwargs(chunk))
        (out * case.dy.to(device)).sum().backward()
        assert_close(f"d{wanted} alone", leaves[wanted].grad.cpu(), ref_grads[wanted], TOL[torch.float64])
        for n, leaf in leaves.items():
            assert n == wanted or leaf.grad is None


@pytest.mark.parametrize(("form", "chunk"), FORM_CHUNKS_SMALL, ids=lambda x: str(x))
@pytest.mark.parametrize("variant", VARIANTS)
def test_ones_column_gives_numerator_and_denominator(device: str, form: str, chunk: int | None, variant: str) -> None:
    # The documented way to get both halves (docs/maths.md, "The two-scan image variant"): append ones to v and
    # pass normalize=False.
    from .reference import ref_lion

    case = make_case(variant, 27, seed=23)
    v1 = torch.cat([case.v, torch.ones_like(case.v[..., :1])], dim=-1)
    on_device = [None if x is None else x.to(device) for x in (case.q, case.k, v1, case.v, case.g, case.g_gamma)]
    q, k, v1_d, v, g, g_gamma = on_device
    out = form_fn(form)(q, k, v1_d, g, g_gamma, normalize=False, **_kwargs(chunk)).cpu()
    num = ref_lion(case.q, case.k, case.v, case.g, case.g_gamma, normalize=False)
    den = ref_lion(case.q, case.k, torch.ones_like(case.v[..., :1]), case.g, case.g_gamma, normalize=False)
    assert_close("numerator", out[..., :-1], num, TOL[torch.float64])
    assert_close("denominator", out[..., -1:], den, TOL[torch.float64])
    normalized = form_fn(form)(q, k, v, g, g_gamma, **_kwargs(chunk)).cpu()
    assert_close("num / (den + eps)", out[..., :-1] / (out[..., -1:] + 1e-6), normalized, TOL[torch.float64])

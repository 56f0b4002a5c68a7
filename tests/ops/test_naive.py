"""The literal reference (``lion_attn.ops.naive``) against hand-computed values and against itself.

Every number in the hand-computed tests is worked out in the comments beside it. The three literal forms are then
checked against each other in float64 (outputs and gradients), with padding, packing and hard resets, and the
module's isolation from the fast code is pinned.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from lion_attn.ops.naive import (
    NAIVE_FORMS,
    naive_chunk,
    naive_decay_mask,
    naive_lion,
    naive_parallel,
    naive_recurrent,
    naive_scans,
)

from .utils import assert_close, log_decays, make_case

DT = torch.float64
ROOT = Path(__file__).resolve().parents[2]
# Each form with the chunk sizes that exercise it: C = 1 is the RNN, C >= T the parallel form, others in between.
FORM_OPTIONS = (
    ("parallel", {}),
    ("recurrent", {}),
    ("chunk", {"chunk_size": 1}),
    ("chunk", {"chunk_size": 2}),
    ("chunk", {"chunk_size": 3}),
    ("chunk", {"chunk_size": 64}),
)
FORM_IDS = ("parallel", "recurrent", "chunk1", "chunk2", "chunk3", "chunk64")


def _t(values: list[float]) -> torch.Tensor:
    return torch.tensor(values, dtype=DT)


def _scalars(q: list[float], k: list[float], v: list[float], lam: list[float] | None = None):
    """Scalar heads (B = H = K = V = 1) from lists; ``lam`` gives the decays (log taken), None for LIT."""
    length = len(q)
    shape = (1, length, 1, 1)
    g = None if lam is None else torch.log(_t(lam)).view(1, length, 1)
    return _t(q).view(shape), _t(k).view(shape), _t(v).view(shape), g


@pytest.mark.parametrize(("form", "options"), FORM_OPTIONS, ids=FORM_IDS)
def test_one_token(form: str, options: dict) -> None:
    # T = 1: A = scale q k, y = scale q k v / (scale q k + eps). q = 2, k = 3, v = 5.
    q, k, v, _ = _scalars([2.0], [3.0], [5.0])
    fn = NAIVE_FORMS[form]
    assert fn(q, k, v, scale=1.0, eps=0.0, **options).item() == pytest.approx(5.0, rel=1e-15)
    # scale 1, eps 1: 30 / (6 + 1).
    assert fn(q, k, v, scale=1.0, eps=1.0, **options).item() == pytest.approx(30.0 / 7.0, rel=1e-15)
    # scale 0.5, eps 1: 15 / (3 + 1); unnormalised: 15.
    assert fn(q, k, v, scale=0.5, eps=1.0, **options).item() == pytest.approx(15.0 / 4.0, rel=1e-15)
    assert fn(q, k, v, scale=0.5, normalize=False, **options).item() == pytest.approx(15.0, rel=1e-15)
    # The default scale is K ** -0.5 = 1 for K = 1; a decay on the only token changes nothing.
    g = torch.full((1, 1, 1), -3.0, dtype=DT)
    assert fn(q, k, v, g, eps=0.0, **options).item() == pytest.approx(5.0, rel=1e-15)


@pytest.mark.parametrize(("form", "options"), FORM_OPTIONS, ids=FORM_IDS)
def test_two_tokens(form: str, options: dict) -> None:
    # q = (1, 2), k = (3, 1), v = (1, 4), lambda_1 = 0.5 (lambda_0 unused): M = [[1, .5], [.5, 1]],
    # A = [[1*3*1, 1*1*.5], [2*3*.5, 2*1*1]] = [[3, .5], [3, 2]];
    # num = (3*1 + .5*4, 3*1 + 2*4) = (5, 11), den = (3.5, 5).
    q, k, v, g = _scalars([1.0, 2.0], [3.0, 1.0], [1.0, 4.0], [0.9, 0.5])
    fn = NAIVE_FORMS[form]
    num = fn(q, k, v, g, scale=1.0, normalize=False, **options)
    torch.testing.assert_close(num.flatten(), _t([5.0, 11.0]), rtol=1e-14, atol=0)
    y = fn(q, k, v, g, scale=1.0, eps=0.0, **options)
    torch.testing.assert_close(y.flatten(), _t([5.0 / 3.5, 11.0 / 5.0]), rtol=1e-14, atol=0)
    # LION-LIT (lambda = 1): A = [[3, 1], [6, 2]], num = (3 + 4, 6 + 8) = (7, 14), den = (4, 8).
    y = fn(q, k, v, scale=1.0, eps=0.0, **options)
    torch.testing.assert_close(y.flatten(), _t([7.0 / 4.0, 14.0 / 8.0]), rtol=1e-14, atol=0)


@pytest.mark.parametrize(("form", "options"), FORM_OPTIONS, ids=FORM_IDS)
def test_two_tokens_vectors(form: str, options: dict) -> None:
    # K = V = 2, one head: q0 = (1, 0), q1 = (0, 1), k0 = (1, 1), k1 = (2, 0), v0 = (1, 0), v1 = (0, 1),
    # lambda_1 = 0.5. q0.k0 = 1, q0.k1 = 2, q1.k0 = 1, q1.k1 = 0, so A = [[1, 2*.5], [1*.5, 0]] = [[1, 1], [.5, 0]];
    # num0 = (1, 1), den0 = 2 -> y0 = (.5, .5); num1 = (.5, 0), den1 = .5 -> y1 = (1, 0).
    q = _t([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)
    k = _t([[1.0, 1.0], [2.0, 0.0]]).view(1, 2, 1, 2)
    v = _t([[1.0, 0.0], [0.0, 1.0]]).view(1, 2, 1, 2)
    g = torch.log(_t([1.0, 0.5])).view(1, 2, 1)
    y = NAIVE_FORMS[form](q, k, v, g, scale=1.0, eps=0.0, **options)
    torch.testing.assert_close(y.view(2, 2), _t([[0.5, 0.5], [1.0, 0.0]]), rtol=1e-14, atol=0)


@pytest.mark.parametrize(("form", "options"), FORM_OPTIONS, ids=FORM_IDS)
def test_three_tokens(form: str, options: dict) -> None:
    # lambda = (unused, 0.5, 0.25): M = [[1, .5, .125], [.5, 1, .25], [.125, .25, 1]]; q = (1, 2, 1),
    # k = (1, 1, 2), v = (1, 2, 3). Rows of A: [1, .5, .25], [1, 2, 1], [.125, .25, 2];
    # num = (1 + 1 + .75, 1 + 4 + 3, .125 + .5 + 6) = (2.75, 8, 6.625), den = (1.75, 4, 2.375).
    q, k, v, g = _scalars([1.0, 2.0, 1.0], [1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.9, 0.5, 0.25])
    fn = NAIVE_FORMS[form]
    num = fn(q, k, v, g, scale=1.0, normalize=False, **options)
    torch.testing.assert_close(num.flatten(), _t([2.75, 8.0, 6.625]), rtol=1e-14, atol=0)
    y = fn(q, k, v, g, scale=1.0, eps=0.0, **options)
    torch.testing.assert_close(y.flatten(), _t([2.75 / 1.75, 8.0 / 4.0, 6.625 / 2.375]), rtol=1e-14, atol=0)
    # scale s and eps e: y = s num / (s den + e).
    y = fn(q, k, v, g, scale=0.5, eps=0.25, **options)
    expected = _t([1.375 / (0.875 + 0.25), 4.0 / (2.0 + 0.25), 3.3125 / (1.1875 + 0.25)])
    torch.testing.assert_close(y.flatten(), expected, rtol=1e-14, atol=0)
    # A decay of exactly 0 at token 2 (log-decay -inf) cuts the sequence: M = [[1, .5, 0], [.5, 1, 0], [0, 0, 1]],
    # num = (1 + 1, 1 + 4, 6) = (2, 5, 6), den = (1.5, 3, 2).
    g_cut = g.clone()
    g_cut[0, 2, 0] = -float("inf")
    num = fn(q, k, v, g_cut, scale=1.0, normalize=False, **options)
    torch.testing.assert_close(num.flatten(), _t([2.0, 5.0, 6.0]), rtol=1e-14, atol=0)


@pytest.mark.parametrize(("form", "options"), FORM_OPTIONS, ids=FORM_IDS)
def test_hand_computed_gradient_of_decay(form: str, options: dict) -> None:
    # T = 2, scalars, unnormalised: y0 + y1 = q0 k0 v0 + q1 k1 v1 + lam1 (q0 k1 v1 + q1 k0 v0), so
    # d/dg1 = lam1 (q0 k1 v1 + q1 k0 v0) = 0.6 (1.5*3*4 + 0.5*2*-1) and d/dg0 = 0.
    q, k, v, _ = _scalars([1.5, 0.5], [2.0, 3.0], [-1.0, 4.0])
    g = torch.log(_t([0.3, 0.6])).requires_grad_()
    NAIVE_FORMS[form](q, k, v, g.view(1, 2, 1), scale=1.0, normalize=False, **options).sum().backward()
    torch.testing.assert_close(g.grad, _t([0.0, 0.6 * (18.0 - 1.0)]), rtol=1e-14, atol=0)


def test_padding_and_packing_hand_computed() -> None:
    # Tokens 0, 2 of the three-token case, token 1 a pad: the sequence (tok0, tok2) with lambda_2 = 0.25 between
    # them. A = [[1*1, 1*2*.25], [1*1*.25, 1*2]] = [[1, .5], [.25, 2]]; num = (1 + 1.5, .25 + 6) = (2.5, 6.25).
    q, k, v, g = _scalars([1.0, 2.0, 1.0], [1.0, 1.0, 2.0], [1.0, 2.0, 3.0], [0.9, 0.5, 0.25])
    mask = torch.tensor([[True, False, True]])
    for form, options in FORM_OPTIONS:
        num = NAIVE_FORMS[form](q, k, v, g, scale=1.0, normalize=False, attention_mask=mask, **options)
        torch.testing.assert_close(num.flatten(), _t([2.5, 0.0, 6.25]), rtol=1e-14, atol=0)
        y = NAIVE_FORMS[form](q, k, v, g, scale=1.0, eps=0.0, attention_mask=mask, **options)
        torch.testing.assert_close(y.flatten(), _t([2.5 / 1.5, 0.0, 6.25 / 2.25]), rtol=1e-14, atol=0)
        # Packed as [tok0] [tok1, tok2]: tok0 alone gives v0 = 1; the pair has lambda_2 = .25 between them,
        # A = [[2*1, 2*2*.25], [1*1*.25, 1*2]] = [[2, 1], [.25, 2]], num = (4 + 3, .5 + 6) = (7, 6.5).
        num = NAIVE_FORMS[form](q, k, v, g, scale=1.0, normalize=False, cu_seqlens=[0, 1, 3], **options)
        torch.testing.assert_close(num.flatten(), _t([1.0, 7.0, 6.5]), rtol=1e-14, atol=0)


@pytest.mark.parametrize("mode", ("parallel", "chunk", "recurrent"))
def test_two_scans_hand_computed(mode: str) -> None:
    # T = 2, orders (0, 1) and (1, 0); the first has lambda = .5 between its two steps, the second .25, so the
    # summed mask is [[2, .75], [.75, 2]]. q = (1, 2), k = (3, 1), v = (1, 4):
    # A = [[1*3*2, 1*1*.75], [2*3*.75, 2*1*2]] = [[6, .75], [4.5, 4]]; num = (6 + 3, 4.5 + 16), den = (6.75, 8.5).
    q, k, v, _ = _scalars([1.0, 2.0], [3.0, 1.0], [1.0, 4.0])
    gs = [torch.log(_t([0.7, 0.5])).view(1, 2, 1), torch.log(_t([0.7, 0.25])).view(1, 2, 1)]
    orders = [torch.tensor([0, 1]), torch.tensor([1, 0])]
    y = naive_scans(q, k, v, gs, orders, mode=mode, scale=1.0, eps=0.0, chunk_size=1)
    torch.testing.assert_close(y.flatten(), _t([9.0 / 6.75, 20.5 / 8.5]), rtol=1e-14, atol=0)


def test_mask_is_the_explicit_product() -> None:
    gen = torch.Generator().manual_seed(1)
    g = -torch.rand(2, 6, 3, generator=gen, dtype=DT)
    mask = naive_decay_mask(g)
    lam = g.exp()
    for i in range(6):
        for j in range(6):
            expected = lam[:, min(i, j) + 1 : max(i, j) + 1].prod(dim=1)  # [B, H]
            torch.testing.assert_close(mask[:, :, i, j], expected, rtol=1e-14, atol=0)
    torch.testing.assert_close(mask, mask.transpose(-1, -2), rtol=1e-15, atol=0)
    rows = torch.tensor([4, 0])
    torch.testing.assert_close(naive_decay_mask(g, rows), mask[:, :, rows], rtol=0, atol=0)


def test_lion_d_mask_is_a_toeplitz_power() -> None:
    lam = _t([0.9, 0.5])
    idx = torch.arange(9)
    dist = (idx[:, None] - idx[None, :]).abs().to(DT)
    mask = naive_decay_mask(lam.log().view(1, 1, 2).expand(1, 9, 2))
    torch.testing.assert_close(mask[0], lam.view(2, 1, 1) ** dist, rtol=1e-13, atol=0)


def test_lion_lit_equals_the_global_state_closed_form() -> None:
    case = make_case("lit", 11)
    scale, eps = 0.7, 1e-3
    kv = torch.einsum("bthk,bthv->bhkv", case.k, case.v)
    num = scale * torch.einsum("bthk,bhkv->bthv", case.q, kv)
    den = scale * torch.einsum("bthk,bhk->bth", case.q, case.k.sum(dim=1)).unsqueeze(-1)
    for form, options in FORM_OPTIONS:
        y = NAIVE_FORMS[form](case.q, case.k, case.v, scale=scale, eps=eps, **options)
        assert_close(f"{form} {options} lit closed form", y, num / (den + eps), 1e-13)


def _with_resets(case, batch: int) -> torch.Tensor:
    g = case.g.clone()
    g[:, 4] = -float("inf")  # every head at once
    g[batch - 1, 9, 1] = -float("inf")  # one head only: the literal forms need no special case
    return g


@pytest.mark.parametrize("variant", ("lit", "d", "s", "s-reset"))
@pytest.mark.parametrize("normalize", (True, False), ids=("norm", "raw"))
@pytest.mark.parametrize("length", (1, 2, 7, 13))
def test_forms_agree_outputs_and_gradients(variant: str, normalize: bool, length: int) -> None:
    shape = {"heads": 2, "dim_k": 3, "dim_v": 2}
    case = make_case(variant.split("-")[0], length, **shape, positive=normalize, decay="mix", seed=length)
    g = case.g
    if variant == "s-reset" and length > 9:
        g = _with_resets(case, 2)
    leaves = {n: t for n, t in (("q", case.q), ("k", case.k), ("v", case.v), ("g", g), ("gg", case.g_gamma))}
    leaves = {n: t.clone().requires_grad_() for n, t in leaves.items() if t is not None}
    results = {}
    for (form, options), fid in zip(FORM_OPTIONS, FORM_IDS, strict=True):
        for t in leaves.values():
            t.grad = None
        y = NAIVE_FORMS[form](
            leaves["q"], leaves["k"], leaves["v"], leaves.get("g"), leaves.get("gg"),
            scale=0.6, eps=1e-2, normalize=normalize, **options,
        )  # fmt: skip
        (y * case.dy).sum().backward()
        # An input that does not reach the output (a decay at T = 1) has no grad: its gradient is zero.
        grads = {n: torch.zeros_like(t) if t.grad is None else t.grad.clone() for n, t in leaves.items()}
        results[fid] = (y.detach(), grads)
    ref_y, ref_grads = results["parallel"]
    for fid, (y, grads) in results.items():
        assert_close(f"{fid} output", y, ref_y, 1e-12)
        for name, grad in grads.items():
            assert torch.isfinite(grad).all(), f"{fid} d{name} not finite"
            assert_close(f"{fid} d{name}", grad, ref_grads[name], 1e-11, floor=ref_grads[name].abs().max().item())


@pytest.mark.parametrize(("form", "options"), FORM_OPTIONS, ids=FORM_IDS)
def test_padding_and_packing_are_their_definitions(form: str, options: dict) -> None:
    case = make_case("s", 10, batch=3, seed=7)
    fn = NAIVE_FORMS[form]
    mask = torch.tensor([[True] * 10, [False, True, True, False, True, True, True, False, True, False], [False] * 10])
    y = fn(case.q, case.k, case.v, case.g, attention_mask=mask, **options)
    assert_close("no pads", y[:1], fn(case.q[:1], case.k[:1], case.v[:1], case.g[:1], **options), 1e-15)
    idx = mask[1].nonzero().flatten()
    alone = fn(case.q[1:2, idx], case.k[1:2, idx], case.v[1:2, idx], case.g[1:2, idx], **options)
    assert_close("pads removed", y[1:2, idx], alone, 1e-15)
    assert (y[1, ~mask[1]] == 0).all() and (y[2] == 0).all()
    packed = fn(case.q[:1], case.k[:1], case.v[:1], case.g[:1], cu_seqlens=torch.tensor([0, 4, 4, 10]), **options)
    for start, end in ((0, 4), (4, 10)):
        seg = fn(case.q[:1, start:end], case.k[:1, start:end], case.v[:1, start:end], case.g[:1, start:end], **options)
        assert_close(f"segment {start}:{end}", packed[:, start:end], seg, 1e-15)


def test_hard_reset_equals_packing() -> None:
    case = make_case("s", 10, batch=1, seed=6)
    g = case.g.clone()
    g[:, 4] = -float("inf")
    g = g.requires_grad_()
    for form, options in FORM_OPTIONS:
        y = NAIVE_FORMS[form](case.q, case.k, case.v, g, **options)
        split = NAIVE_FORMS[form](case.q, case.k, case.v, case.g, cu_seqlens=[0, 4, 10], **options)
        assert_close(f"{form} reset", y, split, 1e-14)
        g.grad = None
        y.sum().backward()
        assert torch.isfinite(g.grad).all() and (g.grad[:, 4] == 0).all()


@pytest.mark.parametrize("form", ("parallel", "chunk", "recurrent"))
def test_gradcheck(form: str) -> None:
    case = make_case("s", 5, batch=1, heads=2, dim_k=3, dim_v=2, seed=4)
    inputs = tuple(x.clone().requires_grad_() for x in (case.q, case.k, case.v, case.g))
    assert torch.autograd.gradcheck(lambda q, k, v, g: naive_lion(q, k, v, g, mode=form, chunk_size=2), inputs)
    case = make_case("d", 4, batch=1, heads=2, dim_k=3, dim_v=2, positive=False, seed=5)
    inputs = tuple(x.clone().requires_grad_() for x in (case.q, case.k, case.v, case.g_gamma))
    assert torch.autograd.gradcheck(
        lambda q, k, v, gg: naive_lion(q, k, v, None, gg, mode=form, normalize=False, chunk_size=3), inputs
    )


def test_rows_are_rows_of_the_full_output() -> None:
    case = make_case("d", 12, seed=8)
    rows = torch.tensor([11, 0, 5])
    full = naive_parallel(case.q, case.k, case.v, None, case.g_gamma)
    assert_close("rows", naive_parallel(case.q, case.k, case.v, None, case.g_gamma, rows=rows), full[:, rows], 1e-15)
    with pytest.raises(ValueError, match="rows"):
        naive_parallel(case.q, case.k, case.v, rows=rows, attention_mask=torch.ones(2, 12, dtype=torch.bool))


@pytest.mark.parametrize("count", (1, 2, 3))
@pytest.mark.parametrize("padded", (False, True), ids=("dense", "padded"))
def test_scan_forms_agree_and_equal_per_order_passes(count: int, padded: bool) -> None:
    gen = torch.Generator().manual_seed(count)
    batch, length, heads = 2, 9, 2
    q = F.elu(torch.randn(batch, length, heads, 3, generator=gen, dtype=DT)) + 1
    k = F.elu(torch.randn(batch, length, heads, 3, generator=gen, dtype=DT)) + 1
    v = torch.randn(batch, length, heads, 2, generator=gen, dtype=DT)
    gs = [log_decays((b, length, heads), "moderate", gen) for b in (1, batch, batch)[:count]]
    orders = [torch.arange(length)] + [torch.randperm(length, generator=gen) for _ in range(count - 1)]
    mask = torch.rand(batch, length, generator=gen) > 0.3 if padded else None
    ys = {
        mode: naive_scans(q, k, v, gs, orders, mode=mode, eps=1e-2, attention_mask=mask, chunk_size=4)
        for mode in ("parallel", "chunk", "recurrent")
    }
    for mode, y in ys.items():
        assert_close(f"scans {mode}", y, ys["parallel"], 1e-12)
    # The definition: per order, the un-normalised single-scan LION on the tokens in that order, added in raster
    # order; a ones column of values gives the denominators.
    v1 = torch.cat([v, torch.ones_like(v[..., :1])], dim=-1)
    total = 0.0
    for g, order in zip(gs, orders, strict=True):
        sums = naive_parallel(
            q[:, order], k[:, order], v1[:, order], g.expand(batch, -1, -1), normalize=False,
            attention_mask=None if mask is None else mask[:, order],
        )  # fmt: skip
        total = total + sums[:, torch.argsort(order)]
    expected = total[..., :-1] / (total[..., -1:] + 1e-2)
    if mask is not None:
        expected = expected * mask[:, :, None, None]
    assert_close("scans definition", ys["parallel"], expected, 1e-12)
    if count == 1:
        single = naive_parallel(q, k, v, gs[0].expand(batch, -1, -1), eps=1e-2, attention_mask=mask)
        assert_close("one order is single-scan LION", ys["parallel"], single, 1e-12)


@pytest.mark.parametrize("mode", ("parallel", "chunk", "recurrent"))
@pytest.mark.parametrize("decay", ("lit", "shared", "per-row"))
def test_fast_two_scan_op_matches_naive_scans(mode: str, decay: str) -> None:
    """The op's two-scan variant in every form, outputs and gradients, with padding, against the listing."""
    from lion_attn.ops import lion_attention_scans

    gen = torch.Generator().manual_seed(3)
    batch, length, heads = 2, 11, 2
    q = F.elu(torch.randn(batch, length, heads, 3, generator=gen, dtype=DT)) + 1
    k = F.elu(torch.randn(batch, length, heads, 3, generator=gen, dtype=DT)) + 1
    v = torch.randn(batch, length, heads, 4, generator=gen, dtype=DT)
    rows = 1 if decay == "shared" else batch
    gs = [None, None] if decay == "lit" else [log_decays((rows, length, heads), "mix", gen) for _ in range(2)]
    orders = [torch.arange(length), torch.randperm(length, generator=gen)]
    mask = torch.ones(batch, length, dtype=torch.bool)
    mask[1, [0, 4, 5, 10]] = False
    dy = torch.randn(batch, length, heads, 4, generator=gen, dtype=DT)
    results = []
    for fn in (lion_attention_scans, naive_scans):
        leaves = [t.clone().requires_grad_() for t in (q, k, v, *[g for g in gs if g is not None])]
        scan_gs = leaves[3:] if decay != "lit" else gs
        y = fn(leaves[0], leaves[1], leaves[2], scan_gs, orders, mode=mode, eps=1e-3, attention_mask=mask, chunk_size=4)
        (y * dy).sum().backward()
        results.append((y.detach(), [t.grad for t in leaves]))
    (fast, fast_grads), (ref, ref_grads) = results
    assert_close(f"two-scan {mode}", fast, ref, 1e-10)
    assert (fast[1, ~mask[1]] == 0).all()
    for name, got, want in zip(("q", "k", "v", "g0", "g1"), fast_grads, ref_grads, strict=False):
        assert_close(f"two-scan {mode} d{name}", got, want, 1e-9, floor=want.abs().max().item())


def test_zero_length_and_bad_input() -> None:
    case = make_case("s", 0)
    for form, options in FORM_OPTIONS:
        assert NAIVE_FORMS[form](case.q, case.k, case.v, case.g, **options).shape == (2, 0, 3, 4)
    case = make_case("s", 3)
    with pytest.raises(ValueError, match="at most one"):
        naive_parallel(case.q, case.k, case.v, case.g, torch.zeros(3, dtype=DT))
    with pytest.raises(ValueError, match="<= 0"):
        naive_recurrent(case.q, case.k, case.v, -case.g)
    with pytest.raises(ValueError, match="chunk_size"):
        naive_chunk(case.q, case.k, case.v, case.g, chunk_size=0)
    with pytest.raises(ValueError, match="mode"):
        naive_lion(case.q, case.k, case.v, mode="fast")
    with pytest.raises(ValueError, match="cu_seqlens"):
        naive_parallel(case.q[:1], case.k[:1], case.v[:1], cu_seqlens=[0, 2])


def test_naive_is_independent_of_the_library() -> None:
    """naive.py imports only torch and the standard library; no library module imports it."""
    package = ROOT / "lion_attn"
    naive_path = package / "ops" / "naive.py"
    for node in ast.walk(ast.parse(naive_path.read_text())):
        if isinstance(node, ast.Import):
            names = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            assert node.level == 0, f"naive.py: relative import from {node.module!r}"
            names = [node.module or ""]
        else:
            continue
        for name in names:
            top = name.split(".")[0]
            assert top == "torch" or top in sys.stdlib_module_names, f"naive.py imports {name}"
    for path in sorted(package.rglob("*.py")):
        if path == naive_path:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or "", *(f"{node.module}.{a.name}" for a in node.names)]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            assert not any(n.endswith("naive") or ".naive." in n for n in names), f"{path} imports naive"
    code = (
        "import sys, lion_attn, lion_attn.ops, lion_attn.layers, lion_attn.models; "
        "print('lion_attn.ops.naive' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT)
    assert out.stdout.strip() == "False"


def test_fresh_buffers_are_poisoned_in_op_tests() -> None:
    """The autouse fixture of tests/ops/conftest.py: unwritten memory reads as NaN, so the op tests catch it."""
    x = torch.zeros(3)
    assert torch.isnan(torch.empty(4)).all() and torch.isnan(torch.empty_like(x)).all()
    assert torch.isnan(x.new_empty(2, 2)).all() and torch.isnan(torch.empty_strided((2,), (1,))).all()
    assert (torch.empty(3, dtype=torch.long) == torch.iinfo(torch.long).min).all()

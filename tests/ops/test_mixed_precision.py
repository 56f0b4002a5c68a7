"""The op under bfloat16 and autocast, second derivatives, host synchronisation, and exact zeros at pads.

* Accuracy bar: in bfloat16, the op's relative error against float64 is at most twice that of
  ``scaled_dot_product_attention`` in bfloat16 on the same inputs, for the output and every gradient, in every form,
  variant and the two-scan op. Both are measured here, against float64 runs on the bf16-rounded inputs (so only
  the computation's own rounding counts). The log-decay gradient, which SDPA does not have, is held to twice the
  largest of SDPA's gradient errors.
* Autocast: float32 inputs under a bfloat16 autocast give a bfloat16 output and float32 gradients, forward and
  backward, close to the float32 op.
* Double backward: exact where plain autograd differentiates (LION-LIT's closed form), else a clear error.
* No host synchronisation in the forward and backward passes without padding or packing (``validate=False``).
* ``eps = 0`` with padding: outputs at pads exactly 0, nothing non-finite.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator

import pytest
import torch
import torch.nn.functional as F

from lion_attn.ops import lion_attention, lion_attention_scans
from lion_attn.ops.naive import naive_lion, naive_scans
from tests.devices import DEVICES

FORMS = ("parallel", "chunk", "recurrent")
VARIANTS = ("lit", "d", "s")
B, T, H, K = 2, 48, 4, 32
CHUNK = 16


def _rel(actual: torch.Tensor, expected: torch.Tensor) -> float:
    expected = expected.detach().double()
    return ((actual.detach().double() - expected).norm() / expected.norm().clamp_min(1e-300)).item()


def _inputs(device: str, seed: int = 0, length: int = T) -> dict[str, torch.Tensor]:
    gen = torch.Generator().manual_seed(seed)
    T = length
    q = F.elu(torch.randn(B, T, H, K, generator=gen, dtype=torch.float64)) + 1
    k = F.elu(torch.randn(B, T, H, K, generator=gen, dtype=torch.float64)) + 1
    v = torch.randn(B, T, H, K, generator=gen, dtype=torch.float64)
    dy = torch.randn(B, T, H, K, generator=gen, dtype=torch.float64)
    # Decays mostly close to 1 (sigmoid of ~N(2, 1)), the regime where bf16 decays would break.
    g = F.logsigmoid(torch.randn(B, T, H, generator=gen, dtype=torch.float64) + 2)
    g_gamma = F.logsigmoid(torch.randn(H, generator=gen, dtype=torch.float64) + 2)
    g_scans = [F.logsigmoid(torch.randn(1, T, H, generator=gen, dtype=torch.float64) + 2) for _ in range(2)]
    orders = [torch.arange(T), torch.randperm(T, generator=gen)]
    out = {"q": q, "k": k, "v": v, "dy": dy, "g": g, "g_gamma": g_gamma, "g0": g_scans[0], "g1": g_scans[1]}
    out = {name: x.to(device) for name, x in out.items()}
    out["orders"] = [o.to(device) for o in orders]
    return out


def _run(
    fn: Callable[..., torch.Tensor], tensors: dict[str, torch.Tensor], dy: torch.Tensor
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    leaves = {n: x.detach().clone().requires_grad_(True) for n, x in tensors.items()}
    out = fn(**leaves)
    (out.double() * dy).sum().backward()
    return out.detach(), {n: x.grad for n, x in leaves.items()}


def _case(kind: str, variant: str, form: str, x: dict) -> tuple[Callable[..., torch.Tensor], Callable, list[str]]:
    """(fast op, float64 literal reference, names of its decay inputs) for one case."""
    if kind == "scans":
        orders = x["orders"]

        def op(q, k, v, g0, g1):
            return lion_attention_scans(q, k, v, [g0, g1], orders, mode=form, chunk_size=CHUNK)

        def ref(q, k, v, g0, g1):
            return naive_scans(q, k, v, [g0, g1], orders, mode="parallel")

        return op, ref, ["g0", "g1"]
    names = {"lit": [], "d": ["g_gamma"], "s": ["g"]}[variant]

    def op(q, k, v, **decay):
        return lion_attention(q, k, v, mode=form, chunk_size=CHUNK, **decay)

    def ref(q, k, v, **decay):
        return naive_lion(q, k, v, mode="parallel", **decay)

    return op, ref, names


CASES = [pytest.param("single", v, f, id=f"{f}-{v}") for f in FORMS for v in VARIANTS] + [
    pytest.param("scans", "two-scan", f, id=f"{f}-two-scan") for f in FORMS
]
# The recurrent form is a Python loop over tokens: its cases of the secondary checks run with -m slow.
CASES_FAST_RECURRENT_SLOW = [
    pytest.param(*c.values, id=c.id, marks=pytest.mark.slow if c.values[2] == "recurrent" else ()) for c in CASES
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("kind", "variant", "form"), CASES)
def test_bf16_error_at_most_twice_sdpa(device: str, kind: str, variant: str, form: str) -> None:
    x = _inputs(device)
    qkv = {n: x[n].bfloat16() for n in ("q", "k", "v")}
    rounded = {n: t.double() for n, t in qkv.items()}

    def sdpa(q, k, v):
        return F.scaled_dot_product_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2)).transpose(1, 2)

    out_sdpa, grads_sdpa = _run(sdpa, qkv, x["dy"])
    ref_sdpa, ref_grads_sdpa = _run(sdpa, rounded, x["dy"])
    bar = {"out": 2 * _rel(out_sdpa, ref_sdpa)}
    bar.update({n: 2 * _rel(grads_sdpa[n], ref_grads_sdpa[n]) for n in ("q", "k", "v")})
    decay_bar = max(bar[n] for n in ("q", "k", "v"))

    op, ref, decay_names = _case(kind, variant, form, x)
    # Decays stay float32 in a bf16 model (the layers keep them so); the reference gets them in float64.
    out, grads = _run(op, {**qkv, **{n: x[n].float() for n in decay_names}}, x["dy"])
    expected, expected_grads = _run(ref, {**rounded, **{n: x[n] for n in decay_names}}, x["dy"])
    assert out.dtype == torch.bfloat16
    errors = {"out": _rel(out, expected)}
    errors.update({n: _rel(grads[n], expected_grads[n]) for n in grads})
    failures = [
        f"{name}: {err:.2e} > {bar.get(name, decay_bar):.2e}"
        for name, err in errors.items()
        if not err <= bar.get(name, decay_bar)
    ]
    assert not failures, f"bf16 error above twice SDPA's: {failures} (all: {errors}, bar: {bar})"
    for name in ("q", "k", "v"):
        assert grads[name].dtype == torch.bfloat16
    for name in decay_names:
        assert grads[name].dtype == torch.float32


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("kind", "variant", "form"), CASES_FAST_RECURRENT_SLOW)
def test_autocast_forward_and_backward(device: str, kind: str, variant: str, form: str) -> None:
    x = _inputs(device, seed=1)
    op, _, decay_names = _case(kind, variant, form, x)
    tensors = {n: x[n].float() for n in ("q", "k", "v", *decay_names)}
    expected, expected_grads = _run(op, tensors, x["dy"])
    leaves = {n: t.clone().requires_grad_(True) for n, t in tensors.items()}
    with torch.autocast(device, dtype=torch.bfloat16):
        out = op(**leaves)
        # Backward inside the autocast region too: the op must not be re-cast there either.
        (out.double() * x["dy"]).sum().backward()
    assert out.dtype == torch.bfloat16
    assert _rel(out, expected) < 2e-2
    for name, leaf in leaves.items():
        assert leaf.grad is not None and leaf.grad.dtype == torch.float32, name
        assert torch.isfinite(leaf.grad).all(), name
        assert _rel(leaf.grad, expected_grads[name]) < 5e-2, name


@pytest.mark.parametrize(("kind", "variant", "form"), CASES_FAST_RECURRENT_SLOW)
def test_autocast_equals_explicit_bf16_operands(kind: str, variant: str, form: str) -> None:
    # Autocast only chooses the operand dtype: the op then runs exactly as on bf16 inputs (nothing inside is
    # re-cast), forward and backward, with the decays in float32 either way.
    x = _inputs("cpu", seed=2, length=40)
    op, _, decay_names = _case(kind, variant, form, x)
    decays = {n: x[n].float() for n in decay_names}
    explicit, explicit_grads = _run(op, {**{n: x[n].bfloat16() for n in ("q", "k", "v")}, **decays}, x["dy"])
    leaves = {n: t.clone().requires_grad_(True) for n, t in {**{n: x[n].float() for n in "qkv"}, **decays}.items()}
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = op(**leaves)
        (out.double() * x["dy"]).sum().backward()
    assert torch.equal(out, explicit)
    for name, leaf in leaves.items():
        assert torch.equal(leaf.grad, explicit_grads[name].to(leaf.grad.dtype)), name


@pytest.mark.parametrize("form", FORMS)
def test_double_backward_lit_is_exact(form: str) -> None:
    x = _inputs("cpu", seed=3, length=9)
    small = [x[n][:1, :, :2, :3].clone().requires_grad_(True) for n in ("q", "k", "v")]
    assert torch.autograd.gradgradcheck(lambda q, k, v: lion_attention(q, k, v, mode=form), small)


@pytest.mark.parametrize(("kind", "variant", "form"), [c for c in CASES if c.values[1] != "lit"])
def test_double_backward_is_refused(kind: str, variant: str, form: str) -> None:
    x = _inputs("cpu", seed=4, length=12)
    op, _, decay_names = _case(kind, variant, form, x)
    leaves = {n: x[n].clone().requires_grad_(True) for n in ("q", "k", "v", *decay_names)}
    out = op(**leaves)
    with pytest.raises(RuntimeError, match="second derivatives"):
        torch.autograd.grad((out * x["dy"]).sum(), leaves["q"], create_graph=True)
    # Without create_graph the same backward works.
    (grad_q,) = torch.autograd.grad((op(**leaves) * x["dy"]).sum(), leaves["q"])
    assert torch.isfinite(grad_q).all()


@contextlib.contextmanager
def _no_host_reads() -> Iterator[list[str]]:
    """Make every tensor-to-Python read (``item``, ``tolist``, ``bool``, ``float``, ``int``) raise."""
    names = ("item", "tolist", "__bool__", "__float__", "__int__", "__index__")
    originals = {n: getattr(torch.Tensor, n) for n in names}

    def refuse(name: str) -> Callable[..., object]:
        def method(self: torch.Tensor, *args: object, **kwargs: object) -> object:
            raise AssertionError(f"host synchronisation: Tensor.{name} called in the op's hot path")

        return method

    try:
        for n in names:
            setattr(torch.Tensor, n, refuse(n))
        yield list(names)
    finally:
        for n, method in originals.items():
            setattr(torch.Tensor, n, method)


@pytest.mark.parametrize(("kind", "variant", "form"), CASES_FAST_RECURRENT_SLOW)
def test_no_host_synchronisation_without_padding(kind: str, variant: str, form: str) -> None:
    x = _inputs("cpu", seed=5)
    orders = x["orders"]
    decay_names = {"lit": [], "d": ["g_gamma"], "s": ["g"]}.get(variant, [])
    leaves = {n: x[n].float().requires_grad_(True) for n in ("q", "k", "v")}
    decays = {n: x[n].float().requires_grad_(True) for n in (["g0", "g1"] if kind == "scans" else decay_names)}
    with _no_host_reads():
        if kind == "scans":
            out = lion_attention_scans(
                **leaves, gs=[decays["g0"], decays["g1"]], orders=orders, mode=form, chunk_size=CHUNK, validate=False
            )
        else:
            out = lion_attention(**leaves, **decays, mode=form, chunk_size=CHUNK, validate=False)
        out.sum().backward()
    assert all(t.grad is not None for t in (*leaves.values(), *decays.values()))


def test_unpadded_op_compiles_to_one_graph() -> None:
    """torch.compile(fullgraph=True) fails on any graph break, and every host read is one."""
    x = _inputs("cpu", seed=6)
    q, k, v, g = (x[n][:1, :40].float() for n in ("q", "k", "v", "g"))

    def op(q, k, v, g):
        return lion_attention(q, k, v, g, mode="parallel", validate=False)

    compiled = torch.compile(op, fullgraph=True, backend="aot_eager")
    torch.testing.assert_close(compiled(q, k, v, g), op(q, k, v, g))


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("kind", "variant", "form"), CASES_FAST_RECURRENT_SLOW)
def test_eps_zero_pads_are_exactly_zero(device: str, kind: str, variant: str, form: str) -> None:
    x = _inputs(device, seed=7)
    keep = torch.ones(B, T, dtype=torch.bool, device=device)
    keep[0, :5] = False
    keep[1, 20:27] = False
    keep[1, -3:] = False
    _, _, decay_names = _case(kind, variant, form, x)
    leaves = {n: x[n].clone().requires_grad_(True) for n in ("q", "k", "v", *decay_names)}
    if kind == "scans":
        orders = x["orders"]
        out = lion_attention_scans(
            leaves["q"], leaves["k"], leaves["v"], [leaves["g0"], leaves["g1"]], orders, mode=form, eps=0.0,
            attention_mask=keep, chunk_size=CHUNK,
        )  # fmt: skip
    else:
        decays = {n: leaves[n] for n in decay_names}
        out = lion_attention(
            leaves["q"], leaves["k"], leaves["v"], mode=form, eps=0.0, attention_mask=keep, chunk_size=CHUNK, **decays
        )
    assert torch.isfinite(out).all()
    assert (out[~keep] == 0).all()
    (out * x["dy"]).sum().backward()
    for name, leaf in leaves.items():
        assert torch.isfinite(leaf.grad).all(), name

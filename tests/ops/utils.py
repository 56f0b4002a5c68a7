"""Shared helpers for the op tests: input generators, a run-and-differentiate wrapper, an error-ratio assert."""

from __future__ import annotations

import functools
import math
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F

VARIANTS = ("lit", "d", "s")
FORMS = ("parallel", "chunk", "recurrent")
DECAY_LEVELS = ("zero", "tiny", "moderate", "strong", "mix")
# float64 must agree to round-off; float32 to what its 24-bit mantissa allows after O(T) accumulations.
TOL = {torch.float64: 1e-10, torch.float32: 1e-4}


def form_fn(form: str) -> Callable[..., torch.Tensor]:
    """The op's form function by name, imported lazily so the reference tests run without the op."""
    from lion_attn import ops

    return {"parallel": ops.parallel_lion, "chunk": ops.chunk_lion, "recurrent": ops.recurrent_lion}[form]


def log_decays(shape: tuple[int, ...], level: str, gen: torch.Generator) -> torch.Tensor:
    """Log-decays (<= 0) of a given strength, float64."""
    u = torch.rand(shape, generator=gen, dtype=torch.float64)
    if level == "zero":
        return torch.zeros(shape, dtype=torch.float64)
    if level == "tiny":
        return -1e-6 * (0.5 + u)
    if level == "moderate":
        return -(0.1 + 0.9 * u)
    if level == "strong":
        return -30.0 + u
    if level == "mix":
        levels = [log_decays(shape, name, gen) for name in ("zero", "tiny", "moderate", "strong")]
        pick = torch.randint(0, 4, shape, generator=gen)
        return torch.stack(levels).gather(0, pick.unsqueeze(0)).squeeze(0)
    raise KeyError(level)


@dataclass
class Case:
    """Float64 inputs of one test case; ``tensors()`` gives the op's positional arguments."""

    q: torch.Tensor
    k: torch.Tensor
    v: torch.Tensor
    g: torch.Tensor | None = None
    g_gamma: torch.Tensor | None = None
    dy: torch.Tensor = field(default=None)  # type: ignore[assignment]

    def named(self) -> dict[str, torch.Tensor]:
        """The differentiable inputs that are present, by name."""
        out = {"q": self.q, "k": self.k, "v": self.v}
        if self.g is not None:
            out["g"] = self.g
        if self.g_gamma is not None:
            out["g_gamma"] = self.g_gamma
        return out


def make_case(
    variant: str,
    seqlen: int,
    *,
    batch: int = 2,
    heads: int = 3,
    dim_k: int = 5,
    dim_v: int = 4,
    positive: bool = True,
    decay: str = "moderate",
    seed: int = 0,
) -> Case:
    """Random float64 inputs. ``positive`` passes q, k through elu + 1 (strictly positive, as the feature maps)."""
    gen = torch.Generator().manual_seed(seed)
    q = torch.randn(batch, seqlen, heads, dim_k, generator=gen, dtype=torch.float64)
    k = torch.randn(batch, seqlen, heads, dim_k, generator=gen, dtype=torch.float64)
    v = torch.randn(batch, seqlen, heads, dim_v, generator=gen, dtype=torch.float64)
    if positive:
        q, k = F.elu(q) + 1, F.elu(k) + 1
    g = g_gamma = None
    if variant == "s":
        g = log_decays((batch, seqlen, heads), decay, gen)
    elif variant == "d":
        g_gamma = log_decays((heads,), decay, gen)
    elif variant != "lit":
        raise KeyError(variant)
    dy = torch.randn(batch, seqlen, heads, dim_v, generator=gen, dtype=torch.float64)
    return Case(q, k, v, g, g_gamma, dy)


def run(
    fn: Callable[..., torch.Tensor],
    case: Case,
    dtype: torch.dtype,
    *,
    grad: bool = True,
    device: str | torch.device = "cpu",
    **kwargs: object,
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """Run ``fn`` on the case cast to ``dtype`` (decays stay float64 for float64, else float32) and backprop dy.

    The inputs, ``dy`` and every tensor in ``kwargs`` (masks, offsets) are moved to ``device``; the output and the
    gradients come back on the CPU, where the float64 reference lives (on the CPU nothing is copied).

    Returns:
        The output and the gradients of every present input (empty when ``grad`` is False), on the CPU.
    """
    decay_dtype = torch.float64 if dtype == torch.float64 else torch.float32
    leaves = {}
    for name, x in case.named().items():
        cast = x.to(device=device, dtype=decay_dtype if name in ("g", "g_gamma") else dtype).detach()
        leaves[name] = cast.requires_grad_(grad)
    kwargs = {n: x.to(device) if isinstance(x, torch.Tensor) else x for n, x in kwargs.items()}
    out = fn(leaves["q"], leaves["k"], leaves["v"], leaves.get("g"), leaves.get("g_gamma"), **kwargs)
    if not grad:
        return out.cpu(), {}
    (out.to(torch.float64) * case.dy.to(out.device)).sum().backward()
    grads = {}
    for name, leaf in leaves.items():
        # An input that does not reach the output gets no grad; its true gradient is zero.
        grads[name] = (leaf.grad if leaf.grad is not None else torch.zeros_like(leaf)).cpu()
    return out.cpu(), grads


@functools.lru_cache(maxsize=1024)
def reference_case(
    variant: str,
    seqlen: int,
    *,
    normalize: bool = True,
    scale: float | None = None,
    eps: float = 1e-6,
    decay: str = "moderate",
    seed: int = 0,
    shape: tuple[int, int, int, int] = (2, 3, 5, 4),
) -> tuple[Case, torch.Tensor, dict[str, torch.Tensor]]:
    """A case (B, H, K, V = ``shape``), its reference output and reference gradients, computed once.

    q and k are strictly positive when ``normalize`` (a safe denominator), signed otherwise.
    """
    from .reference import ref_lion

    batch, heads, dim_k, dim_v = shape
    case = make_case(
        variant, seqlen, batch=batch, heads=heads, dim_k=dim_k, dim_v=dim_v, positive=normalize, decay=decay, seed=seed
    )
    out, grads = run(ref_lion, case, torch.float64, normalize=normalize, scale=scale, eps=eps)
    return case, out.detach(), grads


def error_report(actual: torch.Tensor, expected: torch.Tensor, floor: float = 0.0) -> tuple[float, float, str]:
    """Relative RMS error and max-abs error over max |expected| (denominators at least ``floor``), and a description."""
    a = actual.detach().to(torch.float64)
    e = expected.detach().to(torch.float64)
    diff = (a - e).abs()
    if diff.numel() == 0:
        return 0.0, 0.0, "empty"
    rms_e = e.pow(2).mean().sqrt().item()
    max_e = e.abs().max().item()
    rel_rms = diff.pow(2).mean().sqrt().item() / max(rms_e, floor, 1e-300)
    max_abs = diff.max().item()
    rel_max = max_abs / max(max_e, floor, 1e-300)
    where = tuple(int(i) for i in torch.unravel_index(diff.argmax(), diff.shape))
    desc = (
        f"max-abs err {max_abs:.3e} at {where} (actual {a[where].item():.6e}, expected {e[where].item():.6e}), "
        f"max|expected| {max_e:.3e}, rms(expected) {rms_e:.3e}, floor {floor:.3e}; "
        f"rel RMS {rel_rms:.3e}, max-abs/max|expected| {rel_max:.3e}"
    )
    return rel_rms, rel_max, desc


def assert_close(name: str, actual: torch.Tensor, expected: torch.Tensor, tol: float, floor: float = 0.0) -> None:
    """Assert ``actual`` matches ``expected`` to a relative error ``tol`` (both RMS and max-abs ratios).

    ``floor`` is the tensor's natural magnitude when the expected values are far smaller than it (a gradient that
    nearly cancels, e.g. dq when every token only sees itself): errors are then measured against the floor, since
    no finite-precision method can be relatively accurate there. On failure the message gives the max-abs error,
    where it is, and the relative RMS.
    """
    assert actual.shape == expected.shape, f"{name}: shape {tuple(actual.shape)} != {tuple(expected.shape)}"
    bad = ~torch.isfinite(actual.detach())
    assert not bad.any(), f"{name}: {int(bad.sum())} non-finite values of {actual.numel()}"
    rel_rms, rel_max, desc = error_report(actual, expected, floor)
    assert rel_rms <= tol and rel_max <= tol and not math.isnan(rel_rms), f"{name} (tol {tol:.0e}): {desc}"


def assert_all_close(
    prefix: str, actual: dict, expected: dict, tol: float, floors: dict[str, torch.Tensor] | None = None
) -> None:
    """``assert_close`` over every gradient, reporting all failures at once.

    Args:
        prefix: a label for the messages.
        actual: gradients by input name.
        expected: reference gradients by input name.
        tol: relative tolerance.
        floors: per input, a well-conditioned reference gradient whose RMS sets the floor (none: no floor).
    """
    failures = []
    for name, exp in expected.items():
        floor = 0.0 if floors is None or name not in floors else floors[name].pow(2).mean().sqrt().item()
        try:
            assert_close(f"{prefix} d{name}", actual[name], exp, tol, floor)
        except AssertionError as err:
            failures.append(str(err))
    assert not failures, "\n".join(failures)

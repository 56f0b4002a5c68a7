"""One case of the forms benchmark: its inputs, the call under test, its useful FLOPs and its correctness gate.

A case is a dict (a "spec") naming the form (``parallel``, ``chunk``, ``recurrent``; ``closed`` for LION-LIT, whose
every mode runs the same global-state closed form; ``sdpa`` for softmax attention), the variant, the pass
(``fwd``/``fwdbwd``), the sizes, the device and the dtype. The gate compares the output (and every input's
gradient) at a sample of query rows with the literal float64 reference :mod:`lion_attn.ops.naive`.
"""

from __future__ import annotations

import contextlib
from typing import Any

import torch
import torch.nn.functional as F

LION_FORMS = ("parallel", "chunk", "recurrent")
FORMS = (*LION_FORMS, "sdpa")
VARIANTS = ("lit", "d", "s")
PASSES = ("fwd", "fwdbwd")
# LION-LIT runs its global-state closed form in every mode: it is measured once, under this name.
CLOSED = "closed"
DTYPE_NAMES = {"float32": torch.float32, "bfloat16": torch.bfloat16}


def form_label(form: str) -> str:
    """The name of a case's computation in tables: LIT's single closed form is not credited to three forms."""
    if form == CLOSED:
        return "closed form (all modes)"
    return "SDPA" if form == "sdpa" else form


def useful_flops(spec: dict[str, Any]) -> float:
    """Useful FLOPs of one call (matrix products only; see the forms benchmark's docstring for the count)."""
    b, t, h, k, v = spec["B"], spec["T"], spec["H"], spec["K"], spec["V"]
    form, variant = spec["form"], spec["variant"]
    v1 = v + 1
    if form == "sdpa":
        per_head = 2.0 * t * t * (k + v)
    elif variant == "lit":
        per_head = 4.0 * t * k * v1
    elif form == "parallel":
        per_head = 2.0 * t * t * (k + v1)
    elif form == "chunk":
        c = min(spec["chunk_size"], t)
        per_head = 2.0 * t * c * (k + v1) + 8.0 * t * k * v1
    else:
        per_head = 8.0 * t * k * v1
    factor = 3.0 if spec["pass"] == "fwdbwd" else 1.0
    return factor * b * h * per_head


def make_inputs(spec: dict[str, Any], length: int, seed: int) -> dict[str, torch.Tensor | None]:
    """Realistic inputs: feature-mapped positive q, k (``elu+1`` for LIT, ``silu_l2`` for D/S), log-decays
    ``logsigmoid(N(4, 1))`` (decays near 0.98), and for SDPA plain Gaussian q, k, v in its [B, H, T, K] layout.

    Drawn in float32 on the CPU (so every device and dtype sees the same numbers), then moved to the case's device;
    q, k, v are cast to its dtype, log-decays stay float32 (the op's precision contract).
    """
    from lion_attn.layers.feature_maps import elu1, silu_l2

    gen = torch.Generator().manual_seed(seed)
    b, h, k, v = spec["B"], spec["H"], spec["K"], spec["V"]
    device = torch.device(spec.get("device", "cpu"))
    dtype = DTYPE_NAMES[spec.get("dtype", "float32")]
    grad = spec["pass"] == "fwdbwd"
    x: dict[str, torch.Tensor | None] = {"g": None, "g_gamma": None}
    if spec["form"] == "sdpa":
        x["q"] = torch.randn(b, h, length, k, generator=gen)
        x["k"] = torch.randn(b, h, length, k, generator=gen)
        x["v"] = torch.randn(b, h, length, v, generator=gen)
    else:
        fmap = elu1 if spec["variant"] == "lit" else silu_l2
        x["q"] = fmap(torch.randn(b, length, h, k, generator=gen))
        x["k"] = fmap(torch.randn(b, length, h, k, generator=gen))
        x["v"] = torch.randn(b, length, h, v, generator=gen)
        if spec["variant"] == "d":
            x["g_gamma"] = F.logsigmoid(4.0 + torch.randn(h, generator=gen))
        elif spec["variant"] == "s":
            x["g"] = F.logsigmoid(4.0 + torch.randn(b, length, h, generator=gen))
    for name, t in x.items():
        if t is not None:
            t = t.to(device=device, dtype=dtype if name in ("q", "k", "v") else torch.float32)
            x[name] = t.contiguous().requires_grad_(grad)
    return x


def leaves(x: dict[str, torch.Tensor | None]) -> dict[str, torch.Tensor]:
    """The input tensors that are given (and differentiated, in forward+backward cases)."""
    return {name: t for name, t in x.items() if t is not None}


def sdpa_backend(spec: dict[str, Any]) -> str:
    """SDPA's kernel: FlashAttention on CUDA in bfloat16 (where it exists), else PyTorch's own choice."""
    if torch.device(spec.get("device", "cpu")).type == "cuda" and spec.get("dtype") == "bfloat16":
        return "flash"
    return "default"


def _sdpa_context(spec: dict[str, Any]) -> contextlib.AbstractContextManager:
    if sdpa_backend(spec) == "flash":
        from torch.nn.attention import SDPBackend, sdpa_kernel

        return sdpa_kernel([SDPBackend.FLASH_ATTENTION])
    return contextlib.nullcontext()


def call_op(spec: dict[str, Any], x: dict[str, torch.Tensor | None]) -> torch.Tensor:
    """One call of the op under test; returns [B, T, H, V] (LION) or [B, H, T, V] (SDPA)."""
    if spec["form"] == "sdpa":
        with _sdpa_context(spec):
            return F.scaled_dot_product_attention(x["q"], x["k"], x["v"])
    from lion_attn.ops import lion_attention

    # LIT's closed form is what every mode runs; "parallel" names one of them.
    mode = "parallel" if spec["form"] == CLOSED else spec["form"]
    return lion_attention(x["q"], x["k"], x["v"], x["g"], x["g_gamma"], mode=mode, chunk_size=spec["chunk_size"])


def reference_rows(spec: dict[str, Any], x: dict[str, torch.Tensor], rows: torch.Tensor) -> torch.Tensor:
    """Float64 outputs at query ``rows`` [S]; [B, S, H, V].

    LION: the literal reference :func:`lion_attn.ops.naive.naive_parallel` on those rows. SDPA: softmax attention
    written out, ``softmax(q_i . k_j / sqrt(K)) v``.
    """
    if spec["form"] == "sdpa":
        q, k, v = (x[n].transpose(1, 2) for n in ("q", "k", "v"))  # [B, T, H, *]
        scores = torch.einsum("bshk,bthk->bsth", q[:, rows], k) * q.shape[-1] ** -0.5
        return torch.einsum("bsth,bthv->bshv", scores.softmax(dim=2), v)
    from lion_attn.ops.naive import naive_parallel

    return naive_parallel(x["q"], x["k"], x["v"], x.get("g"), x.get("g_gamma"), rows=rows)


def _rows_of(spec: dict[str, Any], y: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    return y.transpose(1, 2)[:, rows] if spec["form"] == "sdpa" else y[:, rows]


def _rel_err(got: torch.Tensor, ref: torch.Tensor) -> float:
    scale = ref.abs().max().item()
    return (got.detach().double().cpu() - ref).abs().max().item() / max(scale, 1e-30)


def sample_rows(length: int, heads: int, seed: int) -> torch.Tensor:
    """A few query rows, always including the first and last, few enough that [S, T, H] stays small."""
    count = max(4, min(32, 8_000_000 // max(length * heads, 1)))
    gen = torch.Generator().manual_seed(seed + 1)
    picked = torch.randperm(length, generator=gen)[:count]
    return torch.unique(torch.cat([picked, torch.tensor([0, length - 1])]))


def check_case(spec: dict[str, Any], x: dict[str, torch.Tensor | None], y: torch.Tensor) -> dict[str, float]:
    """Relative max errors of the outputs (and, for forward+backward, of every input's gradient) at sampled rows
    against :func:`reference_rows` in float64 on the CPU."""
    rows = sample_rows(spec["T"], spec["H"], spec["seed"])
    given = leaves(x)
    grad = spec["pass"] == "fwdbwd"
    ref_inputs = {n: t.detach().double().cpu().requires_grad_(grad) for n, t in given.items()}
    ref = reference_rows(spec, ref_inputs, rows)
    errors = {"out": _rel_err(_rows_of(spec, y.detach(), rows.to(y.device)), ref.detach())}
    if grad:
        weight = torch.randn(ref.shape, generator=torch.Generator().manual_seed(spec["seed"] + 2), dtype=ref.dtype)
        (ref * weight).sum().backward()
        for t in given.values():
            t.grad = None
        got = _rows_of(spec, call_op(spec, x), rows.to(y.device))
        (got.float() * weight.float().to(got.device)).sum().backward()
        for name, t in given.items():
            errors[f"d{name}"] = _rel_err(t.grad, ref_inputs[name].grad)
            t.grad = None
    return errors

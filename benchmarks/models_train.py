"""The training-step part of the models benchmark: LION models against softmax baselines of the same size.

Every model of a group is alive in one process and timed in interleaved rounds, so a busy moment of the machine
hits every model alike. Before any LION model is timed, its three forms must agree: the outputs of the parallel,
chunk and recurrent forms on the timing batch (eval mode, no dropout) are compared, and a model whose forms disagree
beyond the tolerance is reported as failed instead of timed. (LION-LIT's three modes run one closed form; its check
is trivially exact, and its row is the closed form.)
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import math
import statistics
import time
import types
from typing import Any

import torch
import torch.nn.functional as F
from common import DTYPES, synchronize

log = logging.getLogger("benchmarks.models")

# Paper ratios (training time / softmax, GPU).
PAPER_RATIOS = {
    "vision": {"lit": 0.73, "d": 1.39, "s": 1.46, "dnat": 1.48, "snat": 1.68},
    "mlm": {"lit": 0.95, "d": 1.10, "s": 1.32},
}
VISION_VARIANTS = ("lit", "d", "s", "dnat", "snat")
MLM_VARIANTS = ("lit", "d", "s")
MODES = ("parallel", "chunk", "recurrent")
NO_MIX = "no-mix"
BASELINES = ("softmax", NO_MIX)


def train_groups(args: argparse.Namespace) -> list[dict[str, Any]]:
    """The groups of models timed side by side: name, kind, sequence length, batch, registry names."""
    if args.quick:
        vit, bert, lengths = "vit_micro_patch4_28", "bert_tiny", [32]
    else:
        vit, bert, lengths = "vit_tiny_patch16_224", "bert_base", [128, 512]
    vit = getattr(args, "vision_model", None) or vit
    lengths = lengths if getattr(args, "mlm_lengths", None) is None else args.mlm_lengths
    res = int(vit.rsplit("_", 1)[-1])  # registry names end in the image size, e.g. vit_base_patch16_224
    groups = [
        {
            "group": f"vision {vit}",
            "kind": "vision",
            "res": res,
            "batch": args.batch_vision,
            "models": {
                "softmax": f"softmax_{vit}",
                NO_MIX: f"softmax_{vit}",
                **{v: f"lion_{v}_{vit}" for v in VISION_VARIANTS},
            },
        }
    ]
    for length in lengths:
        groups.append(
            {
                "group": f"mlm {bert} T={length}",
                "kind": "mlm",
                "length": length,
                # Same tokens per step at every length: BERT-base at T=512 with batch 8 takes minutes per step here.
                "batch": max(1, args.batch_mlm * 128 // max(length, 128)) if not args.quick else 2,
                "models": {
                    "softmax": f"softmax_{bert}",
                    NO_MIX: f"softmax_{bert}",
                    **{v: f"lion_{v}_{bert}" for v in MLM_VARIANTS},
                },
            }
        )
    return groups


def _no_mixing_forward(
    self: torch.nn.Module, x: torch.Tensor, attention_mask: torch.Tensor | None = None
) -> torch.Tensor:
    """A softmax layer's forward without the attention core: the q/k/v and output projections only."""
    values = self.qkv(x)[..., 2 * self.dim :]
    return self.proj_drop(self.proj(values))


def without_token_mixing(model: torch.nn.Module) -> torch.nn.Module:
    """Replace every softmax attention core of ``model`` by the identity on the values (in place)."""
    from lion_attn.layers import SoftmaxAttention

    layers = [m for m in model.modules() if isinstance(m, SoftmaxAttention)]
    if not layers:
        raise ValueError("without_token_mixing needs a model with SoftmaxAttention layers")
    for layer in layers:
        layer.forward = types.MethodType(_no_mixing_forward, layer)
    return model


def make_batch(
    group: dict[str, Any], model: torch.nn.Module, gen: torch.Generator, device: torch.device | str = "cpu"
) -> dict[str, torch.Tensor]:
    """Random inputs and targets for one training step (drawn on the CPU, then moved to ``device``)."""
    return {name: t.to(device) for name, t in _cpu_batch(group, model, gen).items()}


def _cpu_batch(group: dict[str, Any], model: torch.nn.Module, gen: torch.Generator) -> dict[str, torch.Tensor]:
    b = group["batch"]
    if group["kind"] == "vision":
        cfg = model.config
        images = torch.randn(b, cfg.in_chans, group["res"], group["res"], generator=gen)
        return {"images": images, "labels": torch.randint(0, max(cfg.num_classes, 1), (b,), generator=gen)}
    cfg = model.config
    ids = torch.randint(5, cfg.vocab_size, (b, group["length"]), generator=gen)
    labels = torch.where(torch.rand(ids.shape, generator=gen) < 0.15, ids, torch.full_like(ids, -100))
    return {"input_ids": ids, "labels": labels}


def precision(device: torch.device | str, dtype: str) -> contextlib.AbstractContextManager:
    """bfloat16 autocast on the device for ``dtype="bfloat16"``; nothing for float32."""
    if dtype == "float32":
        return contextlib.nullcontext()
    return torch.autocast(torch.device(device).type, dtype=DTYPES[dtype])


def train_step(
    model: torch.nn.Module,
    opt: torch.optim.Optimizer,
    batch: dict[str, torch.Tensor],
    kind: str,
    dtype: str = "float32",
) -> float:
    """Forward (under autocast for bfloat16), backward and an AdamW step; returns the loss."""
    opt.zero_grad(set_to_none=True)
    with precision(batch[next(iter(batch))].device, dtype):
        if kind == "vision":
            loss = F.cross_entropy(model(batch["images"]), batch["labels"])
        else:
            loss = model(batch["input_ids"], labels=batch["labels"]).loss
    loss.backward()
    opt.step()
    return loss.item()


def _features(model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str) -> torch.Tensor:
    """The model's last hidden states (not the head's logits, which a zero-initialised head makes all zero)."""
    if kind == "vision":
        return model.forward_features(batch["images"])
    return model(batch["input_ids"]).last_hidden_state


def forms_agreement(
    model: torch.nn.Module, batch: dict[str, torch.Tensor], kind: str, dtype: str = "float32"
) -> dict[str, float]:
    """Max relative error of the chunk and recurrent forms' hidden states against the parallel form's.

    Runs the model in eval mode on ``batch`` in each form and restores its mode and the parallel form afterwards.

    Returns:
        ``{"chunk": err, "recurrent": err}`` with ``err = max|y_form - y_parallel| / max|y_parallel|``.
    """
    was_training = model.training
    model.eval()
    outs = {}
    try:
        with torch.no_grad(), precision(batch[next(iter(batch))].device, dtype):
            for mode in MODES:
                model.set_attn_mode(mode)
                outs[mode] = _features(model, batch, kind).double()
    finally:
        model.set_attn_mode("parallel")
        model.train(was_training)
    ref = outs["parallel"]
    scale = max(ref.abs().max().item(), 1e-30)
    return {mode: (outs[mode] - ref).abs().max().item() / scale for mode in MODES[1:]}


def run_train_group(group: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Time every model of a group in interleaved rounds; returns per-model times and ratios to softmax."""
    from lion_attn.models import create_model

    device = torch.device(args.device)
    torch.manual_seed(args.seed)
    gen = torch.Generator().manual_seed(args.seed)
    models, opts, batches = {}, {}, {}
    agreement: dict[str, dict[str, float]] = {}
    failed: dict[str, str] = {}
    for key, name in group["models"].items():
        model = create_model(name).to(device)
        if key == NO_MIX:
            without_token_mixing(model)
        batch = make_batch(group, model, gen, device)
        if key not in BASELINES:
            # The gate: a model's numbers are reported only if its three forms give the same outputs.
            try:
                agreement[key] = forms_agreement(model, batch, group["kind"], args.dtype)
            except Exception as exc:  # a form that cannot run is reported, and the other models still run
                failed[key] = f"a form raised {type(exc).__name__}: {exc}"
                log.warning("%s %s: %s; not timed", group["group"], key, failed[key])
                continue
            worst = max(agreement[key].values())
            if not worst <= args.forms_rtol:
                failed[key] = f"forms disagree: max rel err {worst:.2e} > {args.forms_rtol:.0e}"
                log.warning("%s %s: %s; not timed", group["group"], key, failed[key])
                continue
        model.train()
        models[key] = model
        opts[key] = torch.optim.AdamW(model.parameters(), lr=1e-4)
        batches[key] = batch
    params = {key: sum(p.numel() for p in m.parameters()) for key, m in models.items()}
    times: dict[str, list[float]] = {key: [] for key in models}
    losses: dict[str, float] = {}
    # BERT-base steps take seconds and vary by a few percent from round to round on this machine; more rounds
    # keep the median's noise below the differences the paper's ratios ask about.
    repeats = args.repeats_mlm if group["kind"] == "mlm" else args.repeats
    rounds = args.warmup + repeats
    for r in range(rounds):
        # Rotate the order every round, so no model always runs first (right after another's cache churn).
        keys = [key for key in models if key not in failed]
        keys = keys[r % len(keys) :] + keys[: r % len(keys)] if keys else []
        for key in keys:
            synchronize(device)
            start = time.perf_counter()
            try:
                losses[key] = train_step(models[key], opts[key], batches[key], group["kind"], args.dtype)
            except Exception as exc:  # e.g. a backward pass that does not support the dtype: report, go on
                failed[key] = f"training step raised {type(exc).__name__}: {str(exc).splitlines()[0]}"
                log.warning("%s %s: %s", group["group"], key, failed[key])
                continue
            synchronize(device)
            elapsed = time.perf_counter() - start
            if r >= args.warmup:
                times[key].append(elapsed)
        log.info("%s: round %d/%d done", group["group"], r + 1, rounds)
    medians = {key: statistics.median(t) for key, t in times.items() if key not in failed and t}
    base = medians.get("softmax", math.nan)
    finite = {key: math.isfinite(loss) for key, loss in losses.items() if key not in failed}
    return {
        **{k: v for k, v in group.items() if k != "models"},
        "models": group["models"],
        "params": params,
        "times_s": times,
        "median_s": medians,
        "ratio_to_softmax": {key: m / base for key, m in medians.items()},
        "loss_finite": finite,
        "forms_agreement": agreement,
        "failed": failed,
    }

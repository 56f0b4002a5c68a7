"""Bytes each form of the LION op keeps for the backward pass, per ViT-B/16 attention layer.

A ViT-B/16 layer at 224 px: T = 197 tokens (196 patches and a class token), H = 12 heads, K = V = 64, here at batch
64 in float32 on CPU. Every tensor that autograd saves during the forward pass is seen through
``torch.autograd.graph.saved_tensors_hooks``; each storage is counted once (a view of a saved tensor costs nothing
more), and parameters are left out (they are alive anyway). Two scopes are reported:

* ``op``: the op alone, called on leaf q, k, v (and log-decays) that require gradients: what the form itself adds;
* ``layer``: a whole :class:`lion_attn.layers.LionAttention` (projections, feature map, decays, the op, output
  projection) on a leaf input: what one layer of the model keeps.

Nothing is timed, so the numbers do not depend on what else runs on the machine. Usage::

    python benchmarks/saved_bytes.py                         # the table, as markdown, on stdout
    python benchmarks/saved_bytes.py --out benchmarks/results/saved_bytes.md --label after
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Callable
from pathlib import Path

import torch
from torch import Tensor

from lion_attn.layers import LionAttention
from lion_attn.ops import MODES as FORMS
from lion_attn.ops import lion_attention

log = logging.getLogger("benchmarks.saved_bytes")

BATCH, LENGTH, HEADS, HEAD_DIM, GRID = 64, 197, 12, 64, (14, 14)
# (label, variant, two_scan)
LAYERS = (
    ("LIT", "lit", False),
    ("D", "d", False),
    ("S", "s", False),
    ("D two-scan", "d", True),
    ("S two-scan", "s", True),
)


def saved_bytes(fn: Callable[[], Tensor], exclude: set[int]) -> int:
    """Run ``fn`` with autograd recording and return the bytes of the distinct storages saved for backward.

    Args:
        fn: the forward pass to inspect.
        exclude: storage data pointers not to count (parameters).

    Returns:
        Total bytes of distinct saved storages.
    """
    seen: dict[int, int] = {}

    def pack(t: Tensor) -> Tensor:
        storage = t.untyped_storage()
        ptr = storage.data_ptr()
        if ptr not in exclude and ptr != 0:
            seen[ptr] = max(seen.get(ptr, 0), storage.nbytes())
        return t

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        out = fn()
    del out
    return sum(seen.values())


def op_case(variant: str, mode: str, gen: torch.Generator) -> int:
    """Saved bytes of the op alone, on leaf inputs of one ViT-B/16 layer."""
    shape = (BATCH, LENGTH, HEADS, HEAD_DIM)
    q = torch.rand(shape, generator=gen).requires_grad_()
    k = torch.rand(shape, generator=gen).requires_grad_()
    v = torch.randn(shape, generator=gen).requires_grad_()
    kwargs: dict[str, Tensor] = {}
    if variant == "s":
        kwargs["g"] = torch.nn.functional.logsigmoid(torch.randn(BATCH, LENGTH, HEADS, generator=gen)).requires_grad_()
    elif variant == "d":
        kwargs["g_gamma"] = torch.nn.functional.logsigmoid(torch.randn(HEADS, generator=gen)).requires_grad_()
    return saved_bytes(lambda: lion_attention(q, k, v, mode=mode, **kwargs), exclude=set())


def layer_case(variant: str, two_scan: bool, mode: str, gen: torch.Generator) -> int:
    """Saved bytes of a whole LionAttention layer of ViT-B/16 (parameters excluded)."""
    layer = LionAttention(
        HEADS * HEAD_DIM, HEADS, variant=variant, mode=mode, two_scan=two_scan, grid_size=GRID, num_prefix_tokens=1
    )
    params = {p.untyped_storage().data_ptr() for p in layer.parameters()}
    x = torch.randn(BATCH, LENGTH, HEADS * HEAD_DIM, generator=gen).requires_grad_()
    return saved_bytes(lambda: layer(x), exclude=params)


def table(label: str) -> str:
    """The markdown table (MiB per layer) for every variant and form."""
    gen = torch.Generator().manual_seed(0)
    mib = 2**20
    rows = [
        f"### {label}",
        "",
        f"MiB saved for backward per layer, batch {BATCH}, T = {LENGTH}, H = {HEADS}, K = V = {HEAD_DIM}, float32 "
        f"(one [B, T, H, 64] tensor is {BATCH * LENGTH * HEADS * HEAD_DIM * 4 / mib:.1f} MiB, one [B, H, T, T] "
        f"{BATCH * HEADS * LENGTH * LENGTH * 4 / mib:.1f} MiB).",
        "",
        "| variant | scope | " + " | ".join(FORMS) + " |",
        "|---|---|" + "---:|" * len(FORMS),
    ]
    for name, variant, two_scan in LAYERS:
        if not two_scan:
            cells = []
            for mode in FORMS:
                log.info("op %s %s", name, mode)
                cells.append(f"{op_case(variant, mode, gen) / mib:.1f}")
            rows.append(f"| {name} | op | " + " | ".join(cells) + " |")
        cells = []
        for mode in FORMS:
            log.info("layer %s %s", name, mode)
            cells.append(f"{layer_case(variant, two_scan, mode, gen) / mib:.1f}")
        rows.append(f"| {name} | layer | " + " | ".join(cells) + " |")
    return "\n".join(rows) + "\n"


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--label", default="this checkout", help="heading of the table")
    parser.add_argument("--out", type=Path, help="append the table to this markdown file instead of printing it")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S", stream=sys.stderr)
    torch.set_num_threads(max(1, min(2, torch.get_num_threads())))
    text = table(args.label)
    if args.out is None:
        sys.stdout.write(text)
        return
    args.out.parent.mkdir(parents=True, exist_ok=True)
    previous = args.out.read_text() if args.out.exists() else ""
    tmp = args.out.with_suffix(args.out.suffix + ".tmp")
    tmp.write_text(previous + ("\n" if previous else "") + text)
    tmp.replace(args.out)


if __name__ == "__main__":
    main()

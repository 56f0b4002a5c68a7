"""``lion convert``, ``lion distill`` and ``lion embed``: the sub-commands of the ``lion`` CLI that turn a
pretrained softmax BERT encoder into a LION encoder, distil it and embed documents with it.

:func:`add_parsers` adds the parsers to the ``lion`` command; :data:`HANDLERS` maps each name to its function.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
from collections.abc import Callable
from pathlib import Path

__all__ = ["HANDLERS", "add_parsers", "cmd_convert", "cmd_distill", "cmd_embed"]

logger = logging.getLogger(__name__)


def add_parsers(sub: argparse._SubParsersAction) -> None:
    """Add the ``convert``, ``distill`` and ``embed`` parsers to the ``lion`` sub-command parser."""
    fmt = argparse.ArgumentDefaultsHelpFormatter
    cp = sub.add_parser("convert", help="turn an HF BERT encoder into a LION encoder", formatter_class=fmt)
    cp.add_argument("--from", dest="source", required=True, metavar="HF_DIR", help="HF BERT checkpoint folder")
    cp.add_argument("--variant", required=True, choices=("lit", "d", "s"))
    cp.add_argument("--out", required=True, metavar="DIR", help="folder for the converted model")
    cp.add_argument("--two-scan", action="store_true", help="two-scan variant (images only; rejected for text)")
    cp.add_argument(
        "--feature-map", default="hedgehog", help="'hedgehog' (learnable), or a fixed map: elu1, silu_l2, ..."
    )
    cp.add_argument("--decay-init", default="long", choices=("long", "paper"))

    dp = sub.add_parser("distill", help="attention transfer from the softmax teacher", formatter_class=fmt)
    dp.add_argument("--teacher", required=True, metavar="HF_DIR")
    dp.add_argument("--student", required=True, metavar="DIR", help="folder written by `lion convert`")
    dp.add_argument("--out", required=True, metavar="OUT")
    dp.add_argument("--text", nargs="+", default=None, metavar="FILE", help="text files/folders (default: Austen)")
    dp.add_argument("--max-minutes", type=float, default=None)
    dp.add_argument("--max-steps", type=int, default=3000)
    dp.add_argument("--batch-size", type=int, default=16)
    dp.add_argument("--max-tokens", type=int, default=256)
    dp.add_argument("--lr", type=float, default=1e-2, help="learning rate of what conversion added")
    dp.add_argument("--stage2", default="all", choices=("all", "none"), help="train every weight in stage 2")
    dp.add_argument("--stage2-start", type=float, default=0.5, help="fraction of the step or time budget")
    dp.add_argument("--stage2-lr", type=float, default=5e-5)
    dp.add_argument("--e2e-weight", type=float, default=1.0)
    dp.add_argument("--eval-every", type=int, default=50)
    dp.add_argument("--seed", type=int, default=0)
    dp.add_argument("--resume", action="store_true", help="continue the run in --out")
    dp.add_argument("--overwrite", action="store_true", help="replace a previous run in --out")
    dp.add_argument("--no-progress", dest="progress", action="store_false")

    ep = sub.add_parser("embed", help="L2-normalised mean-pooled embeddings of documents", formatter_class=fmt)
    ep.add_argument("--checkpoint", required=True, help="model folder (converted, distilled, or an HF BERT)")
    ep.add_argument("--input", required=True, help=".jsonl (field --field) or text file (one document per line)")
    ep.add_argument("--out", required=True, help="output .npy file [N, hidden_size] float32")
    ep.add_argument("--mode", default="chunk", choices=("chunk", "recurrent", "parallel"))
    ep.add_argument("--max-tokens", type=int, default=None, help="cut documents (default: no cut for LION)")
    ep.add_argument("--field", default="text")
    ep.add_argument("--batch-tokens", type=int, default=16384, help="padded tokens per batch")
    ep.add_argument("--no-progress", dest="progress", action="store_false")


def cmd_convert(ns: argparse.Namespace) -> int:
    from lion_attn.convert.convert import convert_bert

    model = convert_bert(
        ns.source, ns.variant, ns.out, feature_map=ns.feature_map, decay_init=ns.decay_init, two_scan=ns.two_scan
    )
    added = sum(p.numel() for n, p in model.named_parameters() if ".attn.feature_map." in n or ".attn.decay" in n)
    variant = ns.variant.upper()
    logger.info("wrote %s: LION-%s encoder, %s parameters added by conversion", ns.out, variant, f"{added:,}")
    return 0


def cmd_distill(ns: argparse.Namespace) -> int:
    from lion_attn.convert.distill import DistillConfig, distill

    cfg = DistillConfig(
        teacher=ns.teacher,
        student=ns.student,
        out=ns.out,
        text=ns.text,
        max_tokens=ns.max_tokens,
        batch_size=ns.batch_size,
        max_steps=ns.max_steps,
        max_minutes=ns.max_minutes,
        lr=ns.lr,
        stage2=ns.stage2,
        stage2_start=ns.stage2_start,
        stage2_lr=ns.stage2_lr,
        e2e_weight=ns.e2e_weight,
        eval_every=ns.eval_every,
        seed=ns.seed,
    )
    try:
        summary = distill(cfg, resume=ns.resume, overwrite=ns.overwrite, progress=ns.progress)
    except KeyboardInterrupt as stop:
        logger.warning("lion distill: %s; saved %s", stop, Path(ns.out) / "checkpoints" / "last")
        # 128 + the signal, as `lion train` exits: 130 for Ctrl-C, 143 for SIGTERM.
        summary_path = Path(ns.out) / "summary.json"
        signum = json.loads(summary_path.read_text()).get("stopped_by_signal") if summary_path.is_file() else 0
        return 128 + int(signum or signal.SIGINT)
    logger.info(
        "%d steps, %s tokens, %s min; best dev cosine %.4f; metrics in %s, plot in %s, model in %s",
        summary["steps"],
        f"{summary['tokens_seen']:,}",
        summary["minutes"],
        summary["best_dev_cosine"],
        Path(ns.out) / "metrics.jsonl",
        Path(ns.out) / "curves.png",
        summary["best_checkpoint"],
    )
    return 0


def cmd_embed(ns: argparse.Namespace) -> int:
    import io

    import numpy as np

    from lion_attn.convert.bert_checkpoint import load_hf_bert
    from lion_attn.convert.embed import embed_texts, read_documents
    from lion_attn.convert.text import load_wordpiece
    from lion_attn.models import LionBertModel, load_pretrained, read_config
    from lion_attn.train.checkpoint import atomic_write_bytes, resolve_checkpoint

    folder = Path(ns.checkpoint)
    if read_config(folder).get("model_type") == "bert":
        model = load_hf_bert(folder)
    else:
        folder = resolve_checkpoint(folder, "best")
        model = load_pretrained(folder)
    if not isinstance(model, LionBertModel):
        raise ValueError(f"{str(folder)!r} holds a {type(model).__name__}; lion embed needs a BERT-style encoder")
    model.eval()
    model.set_attn_mode(ns.mode)
    docs = read_documents(ns.input, ns.field)
    tokenizer = load_wordpiece(folder)
    emb = embed_texts(model, tokenizer, docs, ns.max_tokens, batch_tokens=ns.batch_tokens, progress=ns.progress)

    buf = io.BytesIO()
    np.save(buf, emb)
    atomic_write_bytes(Path(ns.out), buf.getvalue())
    count, width = emb.shape
    logger.info("wrote %s: %d embeddings of size %d (%s attention)", ns.out, count, width, model.attn_modes)
    return 0


HANDLERS: dict[str, Callable[[argparse.Namespace], int]] = {
    "convert": cmd_convert,
    "distill": cmd_distill,
    "embed": cmd_embed,
}

"""The ``lion`` command: ``lion train {image,mlm,text-cls,lra}``, ``lion eval``, ``lion data``, ``lion showcase``.

Exit codes: 0 success (including a stop at ``--max-minutes`` or ``--stop-after``), 2 bad input (a message,
never a traceback), 128 + signal number when SIGINT (130) or SIGTERM (143) stopped a run after it saved
``checkpoints/last`` (continue it with ``--resume OUT``), 1 an unexpected error.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import logging
import sys
from pathlib import Path
from typing import Any

from lion_attn.convert import cli as convert_cli
from lion_attn.ops import MODES as ATTN_MODES
from lion_attn.train.config import RUNTIME_FIELDS, TrainConfig

logger = logging.getLogger("lion_attn.train")

EXIT_OK, EXIT_ERROR, EXIT_USAGE = 0, 1, 2
# task_args that hold paths: made absolute so a checkpoint can be evaluated from any working directory.
PATH_ARGS = ("data", "fashion_mnist", "text", "train", "val", "init", "tokenizer_dir")


class UserError(ValueError):
    """Bad input from the command line; reported as one message with exit code 2."""


def _common_flags(p: argparse.ArgumentParser) -> None:
    # Defaults are suppressed so that only flags the user typed override the task's defaults or, on
    # --resume, the checkpoint's config (a typed flag that contradicts the checkpoint is an error).
    s = argparse.SUPPRESS
    g = p.add_argument_group("common training flags")
    g.add_argument("--model", default=s, help="registry name of the model preset (see `lion models`)")
    g.add_argument(
        "--model-arg",
        action="append",
        default=s,
        metavar="KEY=VALUE",
        help="override a field of the model config (repeatable), e.g. --model-arg depth=2",
    )
    g.add_argument("--epochs", type=int, default=s)
    g.add_argument("--max-steps", type=int, default=s, help="total optimiser steps (overrides --epochs)")
    g.add_argument("--batch-size", type=int, default=s, help="global batch size")
    g.add_argument("--eval-batch-size", type=int, default=s)
    g.add_argument("--lr", type=float, default=s, help="peak learning rate")
    g.add_argument("--weight-decay", type=float, default=s)
    g.add_argument("--warmup", type=float, default=s, help="warm-up: fraction of steps if < 1, else steps")
    g.add_argument("--min-lr", type=float, default=s, help="final learning rate of the decay")
    g.add_argument("--schedule", choices=("cosine", "linear"), default=s, help="decay after the warm-up")
    g.add_argument("--grad-clip", type=float, default=s, help="max gradient norm (0: off)")
    g.add_argument("--bf16", action=argparse.BooleanOptionalAction, default=s, help="bf16 autocast")
    g.add_argument("--seed", type=int, default=s)
    g.add_argument("--eval-every", default=s, help="'epoch' or a number of steps")
    g.add_argument("--out", default=s, help="output directory (default runs/<task>)")
    g.add_argument(
        "--max-minutes",
        type=float,
        default=s,
        help="time budget: without --epochs/--max-steps the learning-rate schedule is planned to end at M minutes "
        "(from the measured step time); with them, a cap: stop cleanly after M minutes, evaluate, save",
    )
    g.add_argument(
        "--stop-after",
        type=int,
        default=s,
        help="stop after N steps in total without changing the schedule (resume later)",
    )
    g.add_argument("--num-workers", type=int, default=s)
    g.add_argument("--resume", default=s, metavar="PATH", help="checkpoint folder or output directory to continue")
    g.add_argument("--overwrite", action="store_true", default=s, help="replace a previous run in --out")
    g.add_argument("--no-progress", dest="progress", action="store_false", default=s, help="no progress bar")
    g.add_argument("--log-every", type=int, default=s)
    g.add_argument("--device", default=s, help="auto (CUDA if visible, else CPU), cpu, cuda or cuda:N")
    g.add_argument(
        "--attn-mode", choices=ATTN_MODES, default=s, help="attention form used for training (saved in the config)"
    )
    g.add_argument(
        "--ema-decay",
        type=float,
        default=s,
        help="keep an EMA of the weights with this decay (e.g. 0.999), evaluated and saved beside them (0: off)",
    )
    g.add_argument(
        "--test-limit",
        type=int,
        default=s,
        help="evaluate the test set (tasks that have one) at the end on a seeded subset of N samples (0: all)",
    )
    g.add_argument(
        "--keep-freed-memory",
        action=argparse.BooleanOptionalAction,
        default=True,
        help="let glibc keep freed memory for reuse instead of faulting it in again (lion_attn.runtime; "
        "3-8%% faster CPU training steps measured here; the process's resident size then stays at its peak)",
    )


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``lion`` command."""
    from lion_attn.train.tasks import TASKS, get_task_class

    parser = argparse.ArgumentParser(prog="lion", description="Train and evaluate LION models.")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True, metavar="{train,eval,data,showcase,models}")

    train = sub.add_parser("train", help="train a model on a task")
    tsub = train.add_subparsers(dest="task_name", required=True, metavar="{" + ",".join(TASKS) + "}")
    for name in TASKS:
        tp = tsub.add_parser(
            name, help=f"train on the {name} task", formatter_class=argparse.ArgumentDefaultsHelpFormatter
        )
        get_task_class(name).add_arguments(tp)
        presets = getattr(get_task_class(name), "presets", {})
        if presets:
            tp.add_argument(
                "--recipe",
                choices=tuple(presets),
                default=argparse.SUPPRESS,
                help="a preset of defaults (flags typed after it still win): "
                + "; ".join(f"{k}: {v}" for k, v in presets.items()),
            )
        _common_flags(tp)

    ev = sub.add_parser("eval", help="evaluate a checkpoint in each attention form")
    ev.add_argument("--checkpoint", required=True, help="checkpoint folder or output directory")
    ev.add_argument(
        "--data",
        default=None,
        help="evaluation data (default: the run's own); for image and "
        "text-cls a folder / JSONL file, for mlm a text file or folder",
    )
    ev.add_argument("--mode", default="all", choices=("parallel", "chunk", "recurrent", "all"))
    ev.add_argument("--batch-size", type=int, default=64)
    ev.add_argument("--limit", type=int, default=0, help="evaluate the first N samples only")
    ev.add_argument("--json", default=None, help="where to write the results (default: <checkpoint>/eval.json)")
    ev.add_argument("--device", default="auto", help="auto (CUDA if visible, else CPU), cpu, cuda or cuda:N")
    ev.add_argument(
        "--glue-predictions",
        default=None,
        metavar="DIR",
        help="glue checkpoints: also predict the task's test.tsv (MNLI: both test files) and write the GLUE "
        "server's files (e.g. DIR/MRPC.tsv); --data names the task folder if it moved",
    )
    ev.add_argument(
        "--in-process",
        action="store_true",
        help="run every form in this process (faster; peak memory is then not measured per form)",
    )

    dp = sub.add_parser(
        "data", help="prepare the default data sets from Debian packages (no subcommand), or tokenize a corpus"
    )
    dp.add_argument("--dest", default=None, help="destination (default $LION_DATA or ~/.cache/lion-attn/data)")
    dp.add_argument("--what", nargs="+", default=None, help="fashion-mnist and/or austen")
    dp.add_argument("--force", action="store_true")
    dsub = dp.add_subparsers(dest="data_command", required=False, metavar="{tokenize,austen-pairs}")
    tk = dsub.add_parser("tokenize", help="pre-tokenize text files into shards for `lion train mlm --data`")
    tk.add_argument("--text", nargs="+", required=True, help="text files (.txt, .gz) or folders of them")
    tk.add_argument(
        "--tokenizer",
        default="wordpiece",
        help="'wordpiece' (trained on the text), 'bytes', a vocab.txt, a tokenizer.json or a saved tokenizer folder",
    )
    tk.add_argument("--vocab-size", type=int, default=8000, help="WordPiece vocabulary size when trained here")
    tk.add_argument("--out", required=True, help="destination folder (shards, index.json, tokenizer)")
    tk.add_argument("--doc-mode", choices=("line", "paragraph", "file"), default="line", help="what one document is")
    tk.add_argument("--workers", type=int, default=0, help="processes (0: one per CPU, at most one per file)")
    tk.add_argument("--max-shard-tokens", type=int, default=2**27, help="start a new shard past this many tokens")
    tk.add_argument("--no-progress", dest="progress", action="store_false", help="no progress bar")
    ap = dsub.add_parser("austen-pairs", help="write a sentence-pair task from Austen's novels in GLUE's MRPC layout")
    ap.add_argument("--out", required=True, help="destination folder (train.tsv, dev.tsv, test.tsv as MRPC's)")
    ap.add_argument(
        "--kind",
        choices=("same-novel", "near-duplicate"),
        default="same-novel",
        help="'same-novel': are A and B from the same novel? 'near-duplicate': is B a garbled copy of A or of the "
        "passage after it?",
    )
    ap.add_argument("--words", type=int, default=None, help="words per passage (default 48 same-novel, 24 near-dup)")
    ap.add_argument("--train", type=int, default=4000, help="training pairs")
    ap.add_argument("--dev", type=int, default=800, help="dev pairs")
    ap.add_argument("--test", type=int, default=400, help="test pairs")
    ap.add_argument("--seed", type=int, default=0)

    sp = sub.add_parser("showcase", help="LION-S ViT vs softmax ViT on Fashion-MNIST, then eval in all forms")
    sp.add_argument("--out", default="runs/showcase")
    sp.add_argument("--minutes", type=float, default=4.5, help="time budget per model")
    sp.add_argument("--quick", action="store_true", help="a tiny smoke run (seconds, not minutes)")
    sp.add_argument("--overwrite", action="store_true", help="replace a previous showcase in --out")
    sp.add_argument("--seed", type=int, default=0)

    sub.add_parser("models", help="list the registered model presets")
    convert_cli.add_parsers(sub)
    return parser


def parse_model_args(items: list[str]) -> dict[str, Any]:
    """``["depth=2", "drop_rate=0.1"]`` -> ``{"depth": 2, "drop_rate": 0.1}`` (values parsed as JSON if possible)."""
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise UserError(f"--model-arg expects KEY=VALUE, got {item!r}")
        try:
            out[key.strip()] = json.loads(value)
        except json.JSONDecodeError:
            out[key.strip()] = value
    return out


def resolve_train_config(task_name: str, explicit: dict[str, Any]) -> TrainConfig:
    """Merge task defaults (or, on ``--resume``, the checkpoint's config) with the flags the user typed."""
    from lion_attn.train import checkpoint as ckpt
    from lion_attn.train.tasks import get_task_class

    task_cls = get_task_class(task_name)
    common = {f.name for f in dataclasses.fields(TrainConfig)}
    explicit = dict(explicit)
    if "model_arg" in explicit:
        explicit["model_args"] = parse_model_args(explicit.pop("model_arg"))
    if "recipe" in explicit:
        # A recipe's values act as defaults: a flag the user typed overrides them.
        explicit = {**getattr(task_cls, "presets", {})[explicit.pop("recipe")], **explicit}
    unknown = [k for k in explicit if k not in common and k not in task_cls.arg_defaults]
    if unknown:
        raise UserError(f"unknown option(s) for `lion train {task_name}`: {unknown}")
    cfg_over = {k: v for k, v in explicit.items() if k in common}
    task_over = {k: v for k, v in explicit.items() if k in task_cls.arg_defaults}
    for key in (*PATH_ARGS, *task_cls.path_args):
        if isinstance(task_over.get(key), str) and task_over[key]:
            task_over[key] = str(Path(task_over[key]).expanduser().resolve())
    if cfg_over.get("resume"):
        folder = ckpt.resolve_checkpoint(cfg_over["resume"])
        state = ckpt.load_trainer_state(folder)
        if state.get("task") != task_name:
            raise UserError(f"cannot resume: {folder} is from a '{state.get('task')}' run, not '{task_name}'")
        base = TrainConfig.from_dict(state["config"])
        merged = base.to_dict()
        merged.update({k: v for k, v in cfg_over.items()})
        merged["task_args"] = {**base.task_args, **task_over}
        merged["resume"] = str(folder)
        merged.setdefault("overwrite", False)
        if "out" not in cfg_over:
            merged["out"] = str(folder.parent.parent)
        keep = {"out", "resume"}
        if base.budget_scheduled:
            # The budget is the schedule's length there, not a cap of one invocation: it carries over.
            keep.add("max_minutes")
        for key in RUNTIME_FIELDS - set(cfg_over) - keep:
            merged[key] = getattr(TrainConfig(), key)
        return TrainConfig.from_dict(merged)
    merged = {**TrainConfig().to_dict(), **task_cls.defaults, "out": f"runs/{task_name}", **cfg_over}
    if "max_minutes" in cfg_over and not {"epochs", "max_steps"} & set(cfg_over):
        # A budget alone: the schedule is planned to fill it (see lion_attn.train.budget).
        merged["epochs"], merged["max_steps"] = 0, 0
    merged["task"] = task_name
    merged["task_args"] = {**task_cls.arg_defaults, **task_over}
    # A task may derive settings from the typed flags (the image task's --recipe and --lr-base).
    resolve = getattr(task_cls, "resolve_config", None)
    if resolve is not None:
        merged = resolve(merged, set(explicit))
    return TrainConfig.from_dict(merged)


def cmd_train(ns: argparse.Namespace) -> int:
    from lion_attn.train.distributed import cleanup, init_distributed
    from lion_attn.train.loop import Trainer
    from lion_attn.train.tasks import get_task_class

    if ns.keep_freed_memory:
        from lion_attn.runtime import keep_freed_memory

        if keep_freed_memory():
            logger.debug("glibc keeps freed memory for reuse (--no-keep-freed-memory to turn off)")
    skip = ("command", "task_name", "verbose", "keep_freed_memory")
    explicit = {k: v for k, v in vars(ns).items() if k not in skip}
    cfg = resolve_train_config(ns.task_name, explicit)
    dist_info = init_distributed(cfg.device)
    if not dist_info.is_main:
        logging.getLogger().setLevel(logging.WARNING)
    try:
        if cfg.batch_size % dist_info.world_size:
            raise UserError(f"--batch-size {cfg.batch_size} must be divisible by the {dist_info.world_size} processes")
        task = get_task_class(ns.task_name)(cfg)
        result = Trainer(cfg, task, dist_info).fit()
    finally:
        cleanup()
    if dist_info.is_main:
        out = Path(cfg.out)
        print(json.dumps(result.summary))
        print(f"log: {out / 'metrics.jsonl'}  plot: {out / 'curves.png'}  checkpoint: {out / 'checkpoints'}")
    if result.status == "signal" and result.signum is not None:
        logger.warning("interrupted; continue with: lion train %s --resume %s", ns.task_name, cfg.out)
        return 128 + result.signum
    return EXIT_OK


def cmd_eval(ns: argparse.Namespace) -> int:
    from lion_attn.train.evaluate import evaluate_checkpoint, format_table

    if ns.batch_size < 1:
        raise UserError("--batch-size must be >= 1")
    if ns.limit < 0:
        raise UserError("--limit must be >= 0")
    modes = ["parallel", "chunk", "recurrent"] if ns.mode == "all" else [ns.mode]
    report = evaluate_checkpoint(
        ns.checkpoint,
        data=ns.data,
        modes=modes,
        batch_size=ns.batch_size,
        limit=ns.limit,
        json_path=ns.json,
        subprocess_per_mode=not ns.in_process,
        device=ns.device,
    )
    print(format_table(report))
    for mode, res in report["modes"].items():
        # Tasks with several official metrics (GLUE's f1 + accuracy, MNLI matched/mismatched): all of them.
        if len(res["metrics"]) > 2:
            print(f"{mode}: " + ", ".join(f"{k} {v:.4f}" for k, v in res["metrics"].items()))
    print(f"results: {report['json']}")
    if ns.glue_predictions:
        from lion_attn.train.tasks.glue import write_test_predictions

        mode = modes[0]
        for path in write_test_predictions(ns.checkpoint, ns.glue_predictions, ns.data, mode, ns.batch_size):
            print(f"GLUE predictions ({mode} form): {path}")
    return EXIT_OK


def cmd_data_tokenize(ns: argparse.Namespace) -> int:
    from lion_attn.data import WordPieceTokenizer
    from lion_attn.data.shards import find_text_files, iter_documents, tokenize_corpus
    from lion_attn.data.tokenization import resolve_tokenizer

    if ns.workers < 0:
        raise UserError("--workers must be >= 0")
    tok = resolve_tokenizer(ns.tokenizer)
    if tok is None:
        files = find_text_files(ns.text)
        # Streamed from the files: the trainer counts words, it never holds the corpus.
        docs = (doc for f in files for doc in iter_documents(f, ns.doc_mode))
        tok = WordPieceTokenizer.train(docs, vocab_size=ns.vocab_size)
        logger.info("trained a WordPiece vocabulary of %d tokens", tok.vocab_size)
    index = tokenize_corpus(
        ns.text,
        tok,
        ns.out,
        doc_mode=ns.doc_mode,
        workers=ns.workers or None,
        max_shard_tokens=ns.max_shard_tokens,
        progress=ns.progress,
    )
    summary = {k: index[k] for k in ("total_tokens", "total_documents", "dtype", "tokenizer")}
    print(json.dumps({**summary, "shards": len(index["shards"]), "out": str(Path(ns.out).resolve())}, indent=2))
    return EXIT_OK


def cmd_data(ns: argparse.Namespace) -> int:
    from lion_attn.data import DATASETS, DataPrepareError, prepare

    if getattr(ns, "data_command", None) == "tokenize":
        return cmd_data_tokenize(ns)
    if getattr(ns, "data_command", None) == "austen-pairs":
        from lion_attn.data.austen import write_austen_pairs_glue

        sizes = {"train": ns.train, "dev": ns.dev, "test": ns.test}
        words = ns.words or (48 if ns.kind == "same-novel" else 24)
        try:
            out = write_austen_pairs_glue(ns.out, ns.kind, words_per_passage=words, sizes=sizes, seed=ns.seed)
        except ValueError as err:
            logger.error("lion data austen-pairs: %s", err)
            return EXIT_USAGE
        summary = {"out": str(out.resolve()), "kind": ns.kind, **sizes, "layout": "MRPC (lion train glue --task mrpc)"}
        print(json.dumps(summary))
        return EXIT_OK

    what = ns.what or list(DATASETS)
    try:
        results = prepare(ns.dest, what=what, force=ns.force)
    except DataPrepareError as err:
        print(json.dumps(err.results, indent=2))
        logger.error("%s", err)
        return EXIT_ERROR
    print(json.dumps(results, indent=2))
    return EXIT_OK


def cmd_models(ns: argparse.Namespace) -> int:
    from lion_attn.models import list_models

    print("\n".join(list_models()))
    return EXIT_OK


def cmd_showcase(ns: argparse.Namespace) -> int:
    from lion_attn.train.showcase import run_showcase

    return run_showcase(out=ns.out, minutes=ns.minutes, quick=ns.quick, overwrite=ns.overwrite, seed=ns.seed)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``lion`` console script; returns the exit code."""
    from lion_attn.train.checkpoint import CheckpointError
    from lion_attn.train.loop import RunError

    parser = build_parser()
    try:
        ns = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(
            level=logging.DEBUG if ns.verbose else logging.INFO, format="%(message)s", stream=sys.stderr
        )
    for noisy in ("matplotlib", "PIL"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    handlers = {"train": cmd_train, "eval": cmd_eval, "data": cmd_data, "showcase": cmd_showcase, "models": cmd_models}
    handlers.update(convert_cli.HANDLERS)
    try:
        return handlers[ns.command](ns)
    except (UserError, RunError, CheckpointError, FileNotFoundError, NotADirectoryError, ValueError) as err:
        print(f"lion {ns.command}: error: {err}", file=sys.stderr)
        return EXIT_USAGE
    except RuntimeError as err:
        print(f"lion {ns.command}: failed: {err}", file=sys.stderr)
        return EXIT_ERROR
    except KeyboardInterrupt:
        print(f"lion {ns.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())

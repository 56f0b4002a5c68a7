"""Copy the benchmark summaries from ``benchmarks/results/*.md`` into the project README.

The README's section between ``<!-- BENCHMARKS -->`` and ``<!-- /BENCHMARKS -->`` is rebuilt from the result files
that ``forms.py`` and ``models.py`` write: the run's set-up line, the forward-time table and the targets of the
forms benchmark, and the training-ratio and memory-growth tables of the models benchmark. Nothing in it is typed by
hand, so it cannot drift from the results. Prose about the numbers belongs outside the markers.

Usage::

    python benchmarks/update_readme.py            # after forms.py and models.py have written their results
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- BENCHMARKS -->", "<!-- /BENCHMARKS -->"


def _sections(text: str) -> dict[str, list[str]]:
    """Markdown headings (without the #s) -> the lines under them, up to the next heading of any level."""
    sections: dict[str, list[str]] = {"": []}
    current = ""
    for line in text.splitlines():
        if line.startswith("#"):
            current = line.lstrip("#").strip()
            sections[current] = []
        else:
            sections[current].append(line)
    return sections


def _table(lines: list[str]) -> list[str]:
    """The first markdown table in ``lines``."""
    rows = []
    for line in lines:
        if line.startswith("|"):
            rows.append(line)
        elif rows:
            break
    if not rows:
        raise ValueError("no table found where one was expected")
    return rows


def one_lit_row(rows: list[str]) -> list[str]:
    """A forms table with LION-LIT as one row, "closed form (all modes)".

    LIT runs its global-state closed form in every mode. Result files written before the benchmark measured it once
    list that one computation under each form; the first such row is kept, named for what it is, and the copies
    dropped, so the README never credits LIT with three forms.
    """
    out, seen = [], False
    for row in rows:
        parts = row.split("|")
        if len(parts) > 3 and parts[2].strip() == "lit" and parts[1].strip() in ("parallel", "chunk", "recurrent"):
            if seen:
                continue
            seen = True
            parts[1] = " closed form (all modes) "
            row = "|".join(parts)
        out.append(row)
    return out


def _paragraphs(lines: list[str]) -> list[str]:
    """Non-table, non-empty lines (the run's set-up notes)."""
    return [line for line in lines if line.strip() and not line.startswith("|")]


def _section(sections: dict[str, list[str]], prefix: str) -> list[str]:
    for name, lines in sections.items():
        if name.startswith(prefix):
            return lines
    raise ValueError(f"no section starting with {prefix!r} in the results (rerun the benchmark?)")


def build(forms_md: str, models_md: str) -> list[str]:
    """The README block for the two result files' text."""
    forms = _sections(forms_md)
    models = _sections(models_md)
    out = ["### The op's three forms (`benchmarks/forms.py`)", ""]
    for line in _paragraphs(_section(forms, "LION forms benchmark")):
        out += [line, ""]
    out += ["Forward time (median; `skip` = over the run's time/memory budget):", ""]
    out += [*one_lit_row(_table(_section(forms, "Median time, forward"))), ""]
    out += [
        "LION-LIT runs its global-state closed form in every mode, so it has one row; its rows below (`lit`) are",
        "that closed form too.",
        "",
    ]
    out += [
        "The op's targets, as ratios from the same run (`benchmarks/results/forms.md` has every table: forward and",
        "backward times, peak and per-case memory, GFLOP/s; `forms.png` plots time and memory against T):",
        "",
        *_table(_section(forms, "Targets")),
        "",
        "![time and memory against T](benchmarks/results/forms.png)",
        "",
        "### Models (`benchmarks/models.py`)",
        "",
    ]
    for line in _paragraphs(_section(models, "LION models benchmark")):
        out += [line, ""]
    out += [
        "Training step (forward + backward + AdamW) relative to the softmax model of the same size, next to the",
        "paper's GPU ratios; `no-mix` is the softmax model with its attention core removed, the floor for any",
        "attention op in that model:",
        "",
        *_table(_section(models, "Training-step time")),
        "",
        "Inference memory against image size (ViT-tiny/16, batch 1; full tables in `benchmarks/results/models.md`):",
        "",
        *_table(_section(models, "Memory growth")),
        "",
        "![inference time and memory against resolution](benchmarks/results/models_resolution.png)",
    ]
    return out


def update(readme: Path, block: list[str]) -> bool:
    """Replace the marked block of ``readme``; returns whether the file changed."""
    text = readme.read_text()
    if START not in text or END not in text:
        raise ValueError(f"{readme} lacks the {START} ... {END} markers")
    head, rest = text.split(START, 1)
    _, tail = rest.split(END, 1)
    new = head + START + "\n" + "\n".join(block) + "\n" + END + tail
    if new == text:
        return False
    tmp = readme.with_suffix(readme.suffix + ".tmp")
    tmp.write_text(new)
    tmp.replace(readme)
    return True


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--results", type=Path, default=ROOT / "benchmarks" / "results")
    p.add_argument("--readme", type=Path, default=ROOT / "README.md")
    args = p.parse_args(argv)
    block = build((args.results / "forms.md").read_text(), (args.results / "models.md").read_text())
    changed = update(args.readme, block)
    print(f"{args.readme}: {'updated' if changed else 'already up to date'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The run's log: ``metrics.jsonl`` (one object per evaluation), ``metrics.csv`` and ``curves.png``."""

from __future__ import annotations

import csv
import io
import json
import math
from pathlib import Path
from typing import Any

from lion_attn.train.checkpoint import atomic_write_text

LEADING = ["step", "epoch", "lr", "train_loss", "elapsed_min"]


class MetricsLog:
    """Appends evaluation rows to ``OUT/metrics.jsonl`` and mirrors them to ``OUT/metrics.csv``.

    Args:
        out: Output directory.
    """

    def __init__(self, out: str | Path) -> None:
        self.out = Path(out)
        self.jsonl = self.out / "metrics.jsonl"
        self.csv = self.out / "metrics.csv"
        self.rows: list[dict[str, Any]] = []

    def load(self, up_to_step: int | None = None) -> None:
        """Read existing rows (when resuming), dropping any logged after the checkpoint being resumed."""
        self.rows = []
        if self.jsonl.is_file():
            for line in self.jsonl.read_text().splitlines():
                line = line.strip()
                if not line:
                    continue
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    # A line cut by a crash mid-append: everything before it is still good.
                    break
                if up_to_step is None or row.get("step", 0) <= up_to_step:
                    self.rows.append(row)
        self._rewrite()

    def append(self, row: dict[str, Any]) -> None:
        self.rows.append(row)
        self.out.mkdir(parents=True, exist_ok=True)
        with self.jsonl.open("a") as fh:
            fh.write(json.dumps(row) + "\n")
        self._write_csv()

    def _rewrite(self) -> None:
        self.out.mkdir(parents=True, exist_ok=True)
        atomic_write_text(self.jsonl, "".join(json.dumps(r) + "\n" for r in self.rows))
        self._write_csv()

    def _write_csv(self) -> None:
        keys: list[str] = [k for k in LEADING if any(k in r for r in self.rows)]
        for r in self.rows:
            keys += [k for k in r if k not in keys]
        buf = io.StringIO()
        writer = csv.DictWriter(buf, fieldnames=keys)
        writer.writeheader()
        writer.writerows(self.rows)
        atomic_write_text(self.csv, buf.getvalue())


def plot_curves(rows: list[dict[str, Any]], path: str | Path, title: str = "") -> None:
    """Plot every numeric column of ``rows`` against ``step``, one panel per metric, to a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    skip = {"step", "epoch", "elapsed_min"}
    names = []
    for r in rows:
        for k, v in r.items():
            if k not in skip and k not in names and isinstance(v, (int, float)) and not isinstance(v, bool):
                names.append(k)
    n = max(1, len(names))
    cols = min(3, n)
    nrows = math.ceil(n / cols)
    fig, axes = plt.subplots(nrows, cols, figsize=(4.2 * cols, 3.2 * nrows), squeeze=False)
    for ax, name in zip(axes.flat, names, strict=False):
        pts = [(r["step"], r[name]) for r in rows if isinstance(r.get(name), (int, float))]
        if pts:
            xs, ys = zip(*pts, strict=True)
            ax.plot(xs, ys, marker="o", markersize=3)
        ax.set_title(name)
        ax.set_xlabel("step")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(names) :]:
        ax.axis("off")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=100)
    plt.close(fig)
    tmp.replace(path)

"""Official metrics of text classification and regression tasks, computed with scikit-learn and scipy.

GLUE's metrics (Wang et al., 2019): Matthews correlation for CoLA, accuracy and F1 of the positive class for
MRPC and QQP, Pearson and Spearman correlations for STS-B, accuracy elsewhere (MNLI per dev file).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["METRICS", "compute_text_metrics"]


def _accuracy(pred: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import accuracy_score

    return float(accuracy_score(label, pred))


def _f1(pred: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(label, pred, pos_label=1, average="binary", zero_division=0.0))


def _macro_f1(pred: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import f1_score

    return float(f1_score(label, pred, average="macro", zero_division=0.0))


def _mcc(pred: np.ndarray, label: np.ndarray) -> float:
    from sklearn.metrics import matthews_corrcoef

    return float(matthews_corrcoef(label, pred))


def _correlation(kind: str):
    def compute(pred: np.ndarray, label: np.ndarray) -> float:
        from scipy import stats

        # A constant prediction (early in training) has no defined correlation; report 0, not NaN, so that
        # "best checkpoint" comparisons stay meaningful.
        if len(pred) < 2 or np.all(pred == pred[0]) or np.all(label == label[0]):
            return 0.0
        value = (stats.pearsonr if kind == "pearson" else stats.spearmanr)(pred, label)[0]
        return 0.0 if math.isnan(value) else float(value)

    return compute


# name -> fn(predictions, labels); predictions are class ids, or scores for the correlations.
METRICS = {
    "accuracy": _accuracy,
    "f1": _f1,
    "macro_f1": _macro_f1,
    "mcc": _mcc,
    "pearson": _correlation("pearson"),
    "spearman": _correlation("spearman"),
}


def compute_text_metrics(
    names: tuple[str, ...] | list[str],
    predictions: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
    group_names: tuple[str, ...] | list[str] = (),
) -> dict[str, float]:
    """Every metric in ``names`` over the predictions.

    A name ending in ``_<group>`` (``accuracy_matched``) is computed on the items of that group only
    (``group_names[g]`` names group ``g``).

    Args:
        names: Metric names (keys of :data:`METRICS`, optionally with a group suffix).
        predictions: [N] predicted class ids, or predicted scores for regression.
        labels: [N] true class ids or scores.
        groups: [N] group ids, or None.
        group_names: Names of the groups.

    Returns:
        ``{name: value}``.
    """
    out: dict[str, float] = {}
    for name in names:
        base, keep = name, None
        for g, gname in enumerate(group_names):
            if gname and name.endswith("_" + gname):
                base, keep = name[: -len(gname) - 1], (groups == g) if groups is not None else None
        if base not in METRICS:
            raise ValueError(f"unknown metric {name!r}; expected one of {sorted(METRICS)} (with a group suffix)")
        pred, label = (predictions, labels) if keep is None else (predictions[keep], labels[keep])
        out[name] = METRICS[base](pred, label) if len(pred) else float("nan")
    return out

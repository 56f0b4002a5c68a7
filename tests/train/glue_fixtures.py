"""Small GLUE task folders in the distribution's exact layouts (headers, column orders, label spellings, quote
characters that are not CSV quoting), written independently of lion_attn.data.glue."""

from __future__ import annotations

import random
from pathlib import Path

# Sentences with quote characters that a CSV reader would treat as quoting: an unbalanced opening quote and a
# quoted phrase in the middle of a field.
QUOTED = [
    '"I am not romantic, you know; I never was.',
    'She said "nonsense" and left the room.',
    "It's a truth universally acknowledged.",
    'A "" double quote pair.',
]
WORDS = [
    *["emma", "harriet", "knightley", "elton", "anne", "wentworth", "elizabeth", "darcy"],
    *["bingley", "jane", "marianne", "elinor", "fanny", "edmund"],
]


def _sentence(rng: random.Random, n: int = 8) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(n))


def _pair(rng: random.Random, positive: bool) -> tuple[str, str]:
    # A learnable rule: positives share their first word.
    a = _sentence(rng)
    b = a.split()[0] + " " + _sentence(rng, 7) if positive else _sentence(rng)
    if not positive and b.split()[0] == a.split()[0]:
        b = "fanny " + b if a.split()[0] != "fanny" else "emma " + b
    return a, b


def _tsv(path: Path, rows: list[list[str]]) -> None:
    path.write_text("".join("\t".join(r) + "\n" for r in rows), encoding="utf-8")


def write_task(root: Path, task: str, n_train: int = 40, n_dev: int = 16, n_test: int = 6, seed: int = 0) -> Path:
    """Write ``root/<TASK>/`` with train, dev (MNLI: dev_matched, dev_mismatched) and test files."""
    rng = random.Random(seed)
    folder = root / task
    folder.mkdir(parents=True, exist_ok=True)

    def labelled(n: int, offset: int = 0) -> list[tuple[str, str, int, float]]:
        out = []
        for i in range(n):
            pos = rng.random() < 0.5
            a, b = _pair(rng, pos)
            if i % 7 == 3:
                a = QUOTED[i % len(QUOTED)] + " " + a
            out.append((a, b, int(pos), round(rng.uniform(3, 5) if pos else rng.uniform(0, 2), 3)))
        return out

    def write_split(name: str, n: int) -> None:
        rows = labelled(n)
        if task == "cola":
            _tsv(folder / name, [["gj04", str(y), "*" if not y else "", a] for a, _, y, _ in rows])
        elif task == "sst2":
            _tsv(folder / name, [["sentence", "label"]] + [[a, str(y)] for a, _, y, _ in rows])
        elif task == "mrpc":
            head = ["\ufeffQuality", "#1 ID", "#2 ID", "#1 String", "#2 String"]
            _tsv(
                folder / name,
                [head] + [[str(y), str(100 + i), str(200 + i), a, b] for i, (a, b, y, _) in enumerate(rows)],
            )
        elif task == "qqp":
            head = ["id", "qid1", "qid2", "question1", "question2", "is_duplicate"]
            _tsv(
                folder / name,
                [head] + [[str(i), str(2 * i), str(2 * i + 1), a, b, str(y)] for i, (a, b, y, _) in enumerate(rows)],
            )
        elif task == "stsb":
            head = [
                "index",
                "genre",
                "filename",
                "year",
                "old_index",
                "source1",
                "source2",
                "sentence1",
                "sentence2",
                "score",
            ]
            _tsv(
                folder / name,
                [head]
                + [
                    [str(i), "main-news", "f", "2012", str(i), "none", "none", a, b, f"{s:.3f}"]
                    for i, (a, b, _, s) in enumerate(rows)
                ],
            )
        elif task == "mnli":
            names = ["contradiction", "entailment", "neutral"]
            dev = name.startswith("dev")
            head = [
                "index",
                "promptID",
                "pairID",
                "genre",
                "sentence1_binary_parse",
                "sentence2_binary_parse",
                "sentence1_parse",
                "sentence2_parse",
                "sentence1",
                "sentence2",
                "label1",
            ]
            head += ["label2", "label3", "label4", "label5", "gold_label"] if dev else ["gold_label"]
            body = []
            for i, (a, b, y, _) in enumerate(rows):
                gold = names[1] if y else names[0]
                extra = [gold, "neutral", gold, gold] if dev else []
                body.append(
                    [
                        str(i),
                        "1",
                        f"{i}e",
                        "fiction",
                        "( a )",
                        "( b )",
                        "(ROOT a)",
                        "(ROOT b)",
                        a,
                        b,
                        "neutral",
                        *extra,
                        gold,
                    ]
                )
            _tsv(folder / name, [head, *body])
        elif task in ("qnli", "rte"):
            head = (
                ["index", "question", "sentence", "label"]
                if task == "qnli"
                else ["index", "sentence1", "sentence2", "label"]
            )
            _tsv(
                folder / name,
                [head]
                + [[str(i), a, b, "entailment" if y else "not_entailment"] for i, (a, b, y, _) in enumerate(rows)],
            )
        elif task == "wnli":
            _tsv(
                folder / name,
                [["index", "sentence1", "sentence2", "label"]]
                + [[str(i), a, b, str(y)] for i, (a, b, y, _) in enumerate(rows)],
            )
        else:
            raise ValueError(task)

    def write_test(name: str) -> None:
        rows = labelled(n_test)
        heads = {
            "cola": ["index", "sentence"],
            "sst2": ["index", "sentence"],
            "mrpc": ["index", "#1 ID", "#2 ID", "#1 String", "#2 String"],
            "qqp": ["id", "question1", "question2"],
            "stsb": ["index", "genre", "filename", "year", "old_index", "source1", "source2", "sentence1", "sentence2"],
            "mnli": [
                "index",
                "promptID",
                "pairID",
                "genre",
                "sentence1_binary_parse",
                "sentence2_binary_parse",
                "sentence1_parse",
                "sentence2_parse",
                "sentence1",
                "sentence2",
            ],
            "qnli": ["index", "question", "sentence"],
            "rte": ["index", "sentence1", "sentence2"],
            "wnli": ["index", "sentence1", "sentence2"],
        }
        body = []
        for i, (a, b, _, _) in enumerate(rows):
            if task in ("cola", "sst2"):
                body.append([str(i), a])
            elif task == "mrpc":
                body.append([str(i), "1", "2", a, b])
            elif task == "qqp":
                body.append([str(i), a, b])
            elif task == "stsb":
                body.append([str(i), "news", "f", "2012", str(i), "none", "none", a, b])
            elif task == "mnli":
                body.append([str(i), "1", f"{i}e", "fiction", "( a )", "( b )", "(ROOT a)", "(ROOT b)", a, b])
            else:
                body.append([str(i), a, b])
        _tsv(folder / name, [heads[task], *body])

    write_split("train.tsv", n_train)
    if task == "mnli":
        write_split("dev_matched.tsv", n_dev)
        write_split("dev_mismatched.tsv", n_dev)
        write_test("test_matched.tsv")
        write_test("test_mismatched.tsv")
    else:
        write_split("dev.tsv", n_dev)
        write_test("test.tsv")
    return folder


ALL_TASKS = ("cola", "sst2", "mrpc", "qqp", "stsb", "mnli", "qnli", "rte", "wnli")

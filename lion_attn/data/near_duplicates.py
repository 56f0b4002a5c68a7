"""A near-duplicate pair task cut from real prose: "is passage B a garbled copy of passage A, or the next passage?"

Duplicate detection on real text (as GLUE's QQP and MRPC ask of questions and news sentences) needs the two segments
to be read together: neither side alone says anything about the label. Here A is a passage of a novel and B is either
A itself (label 1) or the passage that directly follows A (label 0: same scene, same characters, many shared words),
and *both* kinds of B are garbled the same way (words dropped, neighbours swapped, words replaced by others from the
same novel), so the garbling gives nothing away and only comparing B with A tells the classes apart.

The splits use disjoint stretches of each novel: passages are grouped in runs of consecutive passages, and each run
goes wholly to train, dev or test, so a dev pair never shares a passage (or a neighbour) with a training pair.
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from lion_attn.data.austen import consecutive_passages, prose_words

__all__ = ["garble", "near_duplicate_pairs"]

_RUN = 16  # consecutive passages kept together in one split


def garble(words: list[str], rng: random.Random, vocabulary: list[str], drop: float, swaps: int, replace: float) -> str:
    """A garbled copy of ``words``: each word dropped with probability ``drop`` (at least half are kept), ``swaps``
    random neighbour swaps, then each word replaced with probability ``replace`` by a word drawn from ``vocabulary``.
    """
    kept = [w for w in words if rng.random() >= drop]
    if len(kept) < (len(words) + 1) // 2:
        kept = list(words[: (len(words) + 1) // 2])
    for _ in range(swaps if len(kept) > 1 else 0):
        i = rng.randrange(len(kept) - 1)
        kept[i], kept[i + 1] = kept[i + 1], kept[i]
    return " ".join(rng.choice(vocabulary) if rng.random() < replace else w for w in kept)


def near_duplicate_pairs(
    texts: Mapping[str, str],
    words_per_passage: int = 24,
    sizes: Mapping[str, int] | None = None,
    seed: int = 0,
    drop: float = 0.15,
    swaps: int = 2,
    replace: float = 0.1,
) -> dict[str, list[tuple[str, str, int]]]:
    """Balanced near-duplicate pairs ``(passage_a, garbled_b, label)`` per split, deterministic by ``seed``.

    Args:
        texts: name -> text (e.g. :func:`lion_attn.data.load_austen`).
        words_per_passage: Words per passage (> 1).
        sizes: Pairs per split (default ``{"train": 4000, "dev": 800, "test": 400}``); at most one pair per passage.
        seed: Seed of every draw.
        drop: Probability of dropping each word of B, in [0, 1).
        swaps: Neighbour swaps in B (>= 0).
        replace: Probability of replacing each remaining word of B by a word of the same novel, in [0, 1).

    Returns:
        ``{split: [(a, b, label), ...]}``, label 1 when B is a garbled copy of A, 0 when it is the garbled next passage.

    Raises:
        ValueError: Bad arguments, or too little text for the requested sizes.
    """
    if not isinstance(words_per_passage, int) or words_per_passage < 2:
        raise ValueError(f"words_per_passage must be an int >= 2, got {words_per_passage!r}")
    for name, value in (("drop", drop), ("replace", replace)):
        if not 0.0 <= value < 1.0:
            raise ValueError(f"{name} must be in [0, 1), got {value!r}")
    if not isinstance(swaps, int) or swaps < 0:
        raise ValueError(f"swaps must be an int >= 0, got {swaps!r}")
    sizes = dict(sizes or {"train": 4000, "dev": 800, "test": 400})
    rng = random.Random(seed)
    # (novel, passage index) of every passage that has a successor in its run, per split.
    pools: dict[str, list[tuple[str, int]]] = {"train": [], "dev": [], "test": []}
    passages: dict[str, list[list[str]]] = {}
    vocabularies: dict[str, list[str]] = {}
    for name in sorted(texts):
        # Heading lines ("CHAPTER IV") would mark passage boundaries; consecutive_passages drops them.
        cut = consecutive_passages(texts[name], words_per_passage)
        passages[name], vocabularies[name] = cut, sorted(set(prose_words(texts[name])))
        for start in range(0, len(cut) - 1, _RUN):
            draw = rng.random()
            split = "train" if draw < 0.75 else "dev" if draw < 0.875 else "test"
            pools[split].extend((name, i) for i in range(start, min(start + _RUN, len(cut)) - 1))
    out: dict[str, list[tuple[str, str, int]]] = {}
    for split, n in sizes.items():
        if split not in pools:
            raise ValueError(f"sizes: unknown split {split!r}; expected train, dev, test")
        if n > len(pools[split]):
            raise ValueError(f"sizes[{split!r}]={n} is more than the {len(pools[split])} passages of that split")
        pairs = []
        labels = [1] * (n // 2) + [0] * (n - n // 2)
        rng.shuffle(labels)
        for (name, i), same in zip(rng.sample(pools[split], n), labels, strict=True):
            source = passages[name][i if same else i + 1]
            b = garble(source, rng, vocabularies[name], drop, swaps, replace)
            pairs.append((" ".join(passages[name][i]), b, same))
        out[split] = pairs
    return out

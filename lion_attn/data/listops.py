"""ListOps (Nangia & Bowman, 2018) as used in Long Range Arena (Tay et al., 2021).

Expressions nest the operators MIN, MAX, MED (median) and SM (sum modulo 10) over the digits 0-9, written as
space-separated tokens, e.g. ``[MAX 4 3 [MIN 2 3 ] 1 0 ]``; the label is the value (10 classes). As in LRA,
every operator takes 2 to ``max_args`` arguments and MED follows ``int(np.median(args))``: for an even count
it is the mean of the two middle values rounded down (all values are non-negative).

Unlike LRA, which samples trees freely and rejects those outside the length window, this generator picks a
target length uniformly in ``[min_length, max_length]`` and builds a tree of exactly that many tokens, so long
windows (e.g. 500-2000) cost no rejections. Labels are balanced by per-class quotas.
"""

from __future__ import annotations

import functools
import random
from collections.abc import Sequence

__all__ = [
    "LISTOPS_CLS_ID",
    "LISTOPS_OPERATORS",
    "LISTOPS_PAD_ID",
    "LISTOPS_VOCAB",
    "encode_listops",
    "generate_listops",
    "listops_value",
]

LISTOPS_OPERATORS: tuple[str, ...] = ("[MIN", "[MAX", "[MED", "[SM")
_CLOSE = "]"
#: Token vocabulary: ids are positions. PAD is 0 and CLS is 1.
LISTOPS_VOCAB: tuple[str, ...] = ("[PAD]", "[CLS]", *(str(d) for d in range(10)), *LISTOPS_OPERATORS, _CLOSE)
LISTOPS_PAD_ID = 0
LISTOPS_CLS_ID = 1
_TOKEN_TO_ID = {token: i for i, token in enumerate(LISTOPS_VOCAB)}
# The smallest operator node is "[OP d d ]": 4 tokens. Sizes 2 and 3 cannot be built.
_MIN_NODE = 4


def listops_value(op: str, args: Sequence[int]) -> int:
    """Apply one ListOps operator to its argument values."""
    if op == "[MIN":
        return min(args)
    if op == "[MAX":
        return max(args)
    if op == "[MED":
        ordered = sorted(args)
        mid = len(ordered) // 2
        return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) // 2
    if op == "[SM":
        return sum(args) % 10
    raise ValueError(f"unknown ListOps operator {op!r}; expected one of {LISTOPS_OPERATORS}")


@functools.lru_cache(maxsize=16)
def _reachable(max_size: int, levels: int, max_args: int) -> tuple[tuple[int, ...], ...]:
    """Bitsets (Python ints, bit s set = size s possible) of token counts, up to ``max_size``.

    ``table[l][0]`` holds the sizes of expressions with at most ``l`` levels (a digit is one level), and
    ``table[l][j]`` for j >= 1 the sizes of j consecutive arguments of a node with ``l`` levels, i.e. sums of j
    sizes from ``table[l - 1][0]``. The set of sizes is not an interval (with ``max_args=3`` no expression has 6
    tokens), so tree shapes are checked against it instead of against bounds.
    """
    mask = (1 << (max_size + 1)) - 1
    table: list[tuple[int, ...]] = [(0,), ((1 << 1),)]
    for _ in range(2, levels + 1):
        child = table[-1][0]
        child_sizes = [s for s in range(1, max_size + 1) if child >> s & 1]
        sums = [1]  # zero arguments take zero tokens
        for _ in range(max_args):
            previous, acc = sums[-1], 0
            for s in child_sizes:
                acc |= previous << s
            sums.append(acc & mask)
        nodes = 0
        for k in range(2, max_args + 1):
            nodes |= sums[k] << 2
        table.append((((1 << 1) | nodes) & mask, *sums[1:]))
    return tuple(table)


class _Builder:
    def __init__(self, rng: random.Random, max_size: int, levels: int, max_args: int):
        self.rng = rng
        self.max_args = max_args
        self.table = _reachable(max_size, levels, max_args)

    def possible(self, size: int, levels: int) -> bool:
        return bool(self.table[levels][0] >> size & 1)

    def _propose(self, inner: int, levels: int) -> list[int]:
        # Few subtrees per node and many digits, as in LRA's generator (deep, narrow trees); sizes split at random.
        rng = self.rng
        k = rng.randint(2, min(self.max_args, inner))
        m = min(k, rng.choice((1, 1, 2, 3, k)), (inner - k) // 3)
        sizes = [_MIN_NODE] * m
        extra = inner - (k - m) - _MIN_NODE * m
        if m == 0 or extra < 0:
            return [1] * k if inner == k else []
        cuts = sorted(rng.randint(0, extra) for _ in range(m - 1))
        for i, (a, b) in enumerate(zip([0, *cuts], [*cuts, extra], strict=True)):
            sizes[i] += b - a
        children = sizes + [1] * (k - m)
        rng.shuffle(children)
        return children

    def _exhaustive(self, inner: int, levels: int) -> list[int]:
        # Slow but complete: pick children one at a time so that the rest can still be filled.
        child_set, sums = self.table[levels - 1][0], self.table[levels]
        ks = [k for k in range(2, self.max_args + 1) if k < len(sums) and sums[k] >> inner & 1]
        k = self.rng.choice(ks)
        children = []
        for i in range(k):
            left = k - i - 1
            rest_set = sums[left] if left else 1
            options = [s for s in range(1, inner + 1) if child_set >> s & 1 and rest_set >> (inner - s) & 1]
            size = self.rng.choice(options)
            children.append(size)
            inner -= size
        return children

    def split(self, inner: int, levels: int) -> list[int]:
        """Sizes of the children of a node whose arguments take ``inner`` tokens; children have ``levels - 1``."""
        for _ in range(50):
            children = self._propose(inner, levels)
            if children and all(self.possible(c, levels - 1) for c in children):
                return children
        return self._exhaustive(inner, levels)

    def build(self, size: int, levels: int, out: list[str]) -> int:
        """Append an expression of exactly ``size`` tokens and at most ``levels`` levels; return its value."""
        if size == 1:
            digit = self.rng.randrange(10)
            out.append(str(digit))
            return digit
        op = self.rng.choice(LISTOPS_OPERATORS)
        out.append(op)
        values = [self.build(child, levels - 1, out) for child in self.split(size - 2, levels)]
        out.append(_CLOSE)
        return listops_value(op, values)


def generate_listops(
    n: int,
    seed: int,
    min_length: int = 100,
    max_length: int = 512,
    max_depth: int = 10,
    max_args: int = 10,
    balance: bool = True,
) -> list[tuple[list[str], int]]:
    """Generate ListOps examples.

    Args:
        n: number of examples.
        seed: the generator's seed; the same arguments always give the same examples.
        min_length: minimum number of tokens per expression (>= 4 for an operator at the root).
        max_length: maximum number of tokens per expression.
        max_depth: maximum nesting depth of operators (the root operator is depth 1).
        max_args: maximum arguments per operator (>= 2).
        balance: cap each label at ``ceil(n / 10)`` examples, drawing more expressions until every label's
            quota is met (gives up after ``200 * n`` draws and keeps what it has, which can only happen for
            windows so short that some values are nearly impossible).

    Returns:
        ``n`` pairs ``(tokens, label)``: tokens like ``["[MAX", "4", "[MIN", "2", "3", "]", "]"]`` and the integer
        value 0..9 of the expression.
    """
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if max_args < 2:
        raise ValueError(f"max_args must be >= 2, got {max_args}")
    if max_depth < 1:
        raise ValueError(f"max_depth must be >= 1, got {max_depth}")
    if not _MIN_NODE <= min_length <= max_length:
        raise ValueError(f"need {_MIN_NODE} <= min_length <= max_length, got {min_length} and {max_length}")
    levels = max_depth + 1
    rng = random.Random(seed)
    builder = _Builder(rng, max_length, levels, max_args)
    lengths = [size for size in range(min_length, max_length + 1) if builder.possible(size, levels)]
    if not lengths:
        raise ValueError(
            f"no expression of {min_length}-{max_length} tokens fits max_depth={max_depth}, max_args={max_args}"
        )
    quota = -(-n // 10) if balance else n
    counts = [0] * 10
    examples: list[tuple[list[str], int]] = []
    leftovers: list[tuple[list[str], int]] = []
    draws = 0
    while len(examples) < n and draws < 200 * max(n, 1):
        draws += 1
        tokens: list[str] = []
        value = builder.build(rng.choice(lengths), levels, tokens)
        if counts[value] < quota:
            counts[value] += 1
            examples.append((tokens, value))
        elif len(leftovers) < n:
            leftovers.append((tokens, value))
    examples.extend(leftovers[: n - len(examples)])
    rng.shuffle(examples)
    return examples


def encode_listops(tokens: Sequence[str], add_cls: bool = True) -> list[int]:
    """Map ListOps tokens to ids in ``LISTOPS_VOCAB``, optionally prefixed with ``LISTOPS_CLS_ID``."""
    try:
        ids = [_TOKEN_TO_ID[token] for token in tokens]
    except KeyError as err:
        raise ValueError(f"unknown ListOps token {err.args[0]!r}; vocabulary: {LISTOPS_VOCAB}") from None
    return [LISTOPS_CLS_ID, *ids] if add_cls else ids

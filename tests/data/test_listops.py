from __future__ import annotations

from collections import Counter

import numpy as np
import pytest

from lion_attn.data.listops import (
    LISTOPS_CLS_ID,
    LISTOPS_PAD_ID,
    LISTOPS_VOCAB,
    encode_listops,
    generate_listops,
    listops_value,
)


def evaluate(tokens: list[str]) -> tuple[int, int]:
    """Independent reference: a stack machine; returns (value, maximum operator nesting depth)."""
    stack: list[list] = []
    depth = max_depth = 0
    result = None
    for token in tokens:
        if token.startswith("["):
            stack.append([token])
            depth += 1
            max_depth = max(max_depth, depth)
        elif token == "]":
            op, *args = stack.pop()
            depth -= 1
            assert len(args) >= 2, "every operator takes at least two arguments"
            value = {
                "[MIN": lambda a: min(a),
                "[MAX": lambda a: max(a),
                "[MED": lambda a: int(np.median(a)),
                "[SM": lambda a: sum(a) % 10,
            }[op](args)
            if stack:
                stack[-1].append(value)
            else:
                result = value
        else:
            assert token.isdigit() and len(token) == 1
            if stack:
                stack[-1].append(int(token))
            else:
                result = int(token)
    assert not stack and result is not None, "unbalanced expression"
    return result, max_depth


def test_reference_evaluator_on_hand_examples():
    assert evaluate(["[MAX", "4", "3", "[MIN", "2", "3", "]", "1", "0", "]"]) == (4, 2)
    assert evaluate(["[MED", "1", "2", "3", "9", "]"]) == (2, 1)
    assert evaluate(["[SM", "9", "9", "[MED", "4", "7", "]", "]"]) == (3, 2)


def test_med_convention_matches_lra():
    # LRA uses int(np.median(args)): the mean of the two middle values, rounded down, for even counts.
    assert listops_value("[MED", [1, 2, 3, 9]) == 2
    assert listops_value("[MED", [4, 7]) == 5
    assert listops_value("[MED", [3, 1, 2]) == 2
    rng = np.random.default_rng(0)
    for _ in range(200):
        args = rng.integers(0, 10, size=rng.integers(2, 11)).tolist()
        assert listops_value("[MED", args) == int(np.median(args))


@pytest.mark.parametrize(
    ("min_length", "max_length", "max_depth", "max_args"),
    [(100, 512, 10, 10), (500, 700, 10, 10), (4, 30, 2, 3), (10, 60, 4, 5), (4, 12, 1, 10)],
)
def test_labels_lengths_and_depth(min_length, max_length, max_depth, max_args):
    examples = generate_listops(
        200, seed=1, min_length=min_length, max_length=max_length, max_depth=max_depth, max_args=max_args
    )
    assert len(examples) == 200
    for tokens, label in examples:
        assert min_length <= len(tokens) <= max_length
        value, depth = evaluate(tokens)
        assert value == label
        assert 1 <= depth <= max_depth


def test_deterministic_by_seed():
    a = generate_listops(50, seed=3, min_length=50, max_length=120)
    assert a == generate_listops(50, seed=3, min_length=50, max_length=120)
    assert a != generate_listops(50, seed=4, min_length=50, max_length=120)


def test_balanced_labels_and_varied_lengths():
    examples = generate_listops(500, seed=0, min_length=100, max_length=300)
    counts = Counter(label for _, label in examples)
    assert set(counts) == set(range(10)) and max(counts.values()) == 50
    lengths = [len(tokens) for tokens, _ in examples]
    assert min(lengths) < 130 and max(lengths) > 270
    unbalanced = Counter(
        label for _, label in generate_listops(500, seed=0, min_length=100, max_length=300, balance=False)
    )
    assert max(unbalanced.values()) > 50


def test_deep_nesting_is_reached():
    depths = [evaluate(tokens)[1] for tokens, _ in generate_listops(100, seed=0, min_length=300, max_length=500)]
    assert max(depths) >= 6


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"min_length": 2, "max_length": 10}, "min_length"),
        ({"min_length": 20, "max_length": 10}, "min_length"),
        ({"max_args": 1}, "max_args"),
        ({"max_depth": 0}, "max_depth"),
        ({"min_length": 30, "max_length": 40, "max_depth": 1, "max_args": 4}, "fits"),
    ],
)
def test_bad_arguments(kwargs, message):
    with pytest.raises(ValueError, match=message):
        generate_listops(5, seed=0, **kwargs)


def test_vocab_and_encode():
    assert LISTOPS_VOCAB[LISTOPS_PAD_ID] == "[PAD]" and LISTOPS_VOCAB[LISTOPS_CLS_ID] == "[CLS]"
    assert len(set(LISTOPS_VOCAB)) == len(LISTOPS_VOCAB) == 17
    ids = encode_listops(["[MAX", "4", "]"])
    assert ids[0] == LISTOPS_CLS_ID and [LISTOPS_VOCAB[i] for i in ids[1:]] == ["[MAX", "4", "]"]
    assert encode_listops(["7"], add_cls=False) == [LISTOPS_VOCAB.index("7")]
    tokens, _ = generate_listops(1, seed=0, min_length=20, max_length=40)[0]
    assert all(i != LISTOPS_PAD_ID for i in encode_listops(tokens))
    with pytest.raises(ValueError, match="FIRST"):
        encode_listops(["[FIRST"])

"""The op's surface: the dispatcher, empty sequences, and input validation (errors name the argument)."""

from __future__ import annotations

import re

import pytest
import torch

from .utils import FORMS, VARIANTS, form_fn, make_case

B, T, H, K, V = 2, 6, 3, 5, 4


def _inputs(variant: str = "s", seqlen: int = T, dtype: torch.dtype = torch.float32, device: str = "cpu") -> dict:
    case = make_case(variant, seqlen, batch=B, heads=H, dim_k=K, dim_v=V, seed=71)
    return {
        "q": case.q.to(device=device, dtype=dtype),
        "k": case.k.to(device=device, dtype=dtype),
        "v": case.v.to(device=device, dtype=dtype),
        "g": None if case.g is None else case.g.to(device=device, dtype=dtype),
        "g_gamma": None if case.g_gamma is None else case.g_gamma.to(device=device, dtype=dtype),
    }


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize(
    "options",
    [
        {},
        {"normalize": False, "scale": 0.3, "chunk_size": 4},
        {"eps": 0.1, "attention_mask": torch.tensor([[True] * T, [False, True, True, False, True, True]])},
    ],
    ids=["defaults", "raw", "mask"],
)
def test_dispatcher_equals_named_form(device: str, form: str, variant: str, options: dict) -> None:
    from lion_attn.ops import lion_attention

    x = _inputs(variant, device=device)
    options = {n: o.to(device) if isinstance(o, torch.Tensor) else o for n, o in options.items()}
    expected = form_fn(form)(**x, **options)
    out = lion_attention(**x, mode=form, **options)
    assert torch.equal(out, expected)


def test_dispatcher_default_mode_is_parallel() -> None:
    from lion_attn.ops import lion_attention

    x = _inputs("s")
    assert torch.equal(lion_attention(**x), form_fn("parallel")(**x))


def test_exported_from_package() -> None:
    import lion_attn.ops as ops

    for name in ("lion_attention", "parallel_lion", "chunk_lion", "recurrent_lion"):
        assert name in ops.__all__
        assert callable(getattr(ops, name))


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize("variant", VARIANTS)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64, torch.bfloat16], ids=str)
def test_empty_sequence(device: str, form: str, variant: str, dtype: torch.dtype) -> None:
    x = _inputs(variant, seqlen=0, dtype=torch.float32, device=device)
    x = {n: (t if t is None or n in ("g", "g_gamma") else t.to(dtype)) for n, t in x.items()}
    out = form_fn(form)(**x)
    assert out.shape == (B, 0, H, V)
    assert out.dtype == dtype
    assert out.device == x["q"].device


@pytest.mark.parametrize("form", FORMS)
def test_empty_sequence_with_mask(device: str, form: str) -> None:
    x = _inputs("s", seqlen=0, device=device)
    out = form_fn(form)(**x, attention_mask=torch.zeros(B, 0, dtype=torch.bool, device=device))
    assert out.shape == (B, 0, H, V)


@pytest.mark.parametrize("form", FORMS)
def test_output_shape_and_dtype(device: str, form: str) -> None:
    for dtype in (torch.float32, torch.float64):
        x = _inputs("s", dtype=dtype, device=device)
        out = form_fn(form)(**x)
        assert out.shape == (B, T, H, V)
        assert out.dtype == dtype
        assert out.device == x["q"].device


def _word(name: str) -> str:
    """A regex matching ``name`` as a whole word (so ``g`` does not match inside ``g_gamma``)."""
    return rf"(?<![A-Za-z0-9_]){re.escape(name)}(?![A-Za-z0-9_])"


def _bad(name: str, **changes: object) -> pytest.param:
    return pytest.param(name, changes, id=f"{name}:{'+'.join(changes)}")


def _shape_cases() -> list:
    x = _inputs("s")
    q, k, v, g = x["q"], x["k"], x["v"], x["g"]
    return [
        _bad("q", q=q[0]),
        _bad("k", k=k[..., 0]),
        _bad("v", v=v.unsqueeze(0)),
        _bad("k", k=k[:1]),  # B mismatch
        _bad("v", v=v[:1]),
        _bad("k", k=k[:, :-1]),  # T mismatch
        _bad("v", v=v[:, :-1]),
        _bad("k", k=k[:, :, :-1]),  # H mismatch
        _bad("v", v=v[:, :, :-1]),
        _bad("k", k=k[..., :-1]),  # K mismatch
        _bad("g", g=g[..., None]),  # wrong rank
        _bad("g", g=g[:, :-1]),  # wrong T
        _bad("g", g=g[:, :, :-1]),  # wrong H
        _bad("g", g=g[:1]),  # wrong B
        _bad("g", g=g.abs() + 0.1),  # positive log-decay
        _bad("g_gamma", g=None, g_gamma=torch.full((H + 1,), -0.1)),
        _bad("g_gamma", g=None, g_gamma=torch.full((1, H), -0.1)),
        _bad("g_gamma", g=None, g_gamma=torch.full((H,), 0.2)),
        _bad("q", q=torch.ones(B, T, H, K, dtype=torch.int64)),
        _bad("k", k=torch.ones(B, T, H, K, dtype=torch.int32)),
        _bad("v", v=torch.ones(B, T, H, V, dtype=torch.int64)),
        _bad("attention_mask", attention_mask=torch.ones(B, T + 1, dtype=torch.bool)),
        _bad("attention_mask", attention_mask=torch.ones(B + 1, T, dtype=torch.bool)),
        _bad("attention_mask", attention_mask=torch.ones(B, T, 1, dtype=torch.bool)),
    ]


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(("name", "changes"), _shape_cases())
def test_bad_input_names_the_argument(form: str, name: str, changes: dict) -> None:
    x = {**_inputs("s"), **changes}
    with pytest.raises((ValueError, TypeError), match=_word(name)):
        form_fn(form)(**x)


@pytest.mark.parametrize("form", FORMS)
def test_g_and_g_gamma_both_given(form: str) -> None:
    x = {**_inputs("s"), "g_gamma": torch.full((H,), -0.1)}
    with pytest.raises((ValueError, TypeError), match=_word("g_gamma")) as err:
        form_fn(form)(**x)
    assert re.search(_word("g"), str(err.value)), f"the message does not name g: {err.value}"


def test_unknown_mode() -> None:
    from lion_attn.ops import lion_attention

    with pytest.raises(ValueError, match=_word("mode")):
        lion_attention(**_inputs("s"), mode="flash")


@pytest.mark.parametrize("chunk_size", [0, -3])
def test_chunk_size_below_one(chunk_size: int) -> None:
    from lion_attn.ops import lion_attention

    with pytest.raises(ValueError, match=_word("chunk_size")):
        form_fn("chunk")(**_inputs("s"), chunk_size=chunk_size)
    with pytest.raises(ValueError, match=_word("chunk_size")):
        lion_attention(**_inputs("s"), mode="chunk", chunk_size=chunk_size)


def _packed_inputs() -> dict:
    case = make_case("s", 10, batch=1, heads=H, dim_k=K, dim_v=V, seed=72)
    return {"q": case.q, "k": case.k, "v": case.v, "g": case.g}


@pytest.mark.parametrize("form", FORMS)
@pytest.mark.parametrize(
    "offsets",
    [[0, 4, 3, 10], [1, 4, 10], [0, 4, 9], [0, 4, 11], [10], [[0, 10]]],
    ids=["decreasing", "not-from-0", "short-of-T", "past-T", "single", "2d"],
)
def test_bad_cu_seqlens(form: str, offsets: list) -> None:
    with pytest.raises((ValueError, TypeError), match=_word("cu_seqlens")):
        form_fn(form)(**_packed_inputs(), cu_seqlens=torch.tensor(offsets))


@pytest.mark.parametrize("form", FORMS)
def test_empty_segment_is_exact_or_rejected(form: str) -> None:
    # A repeated offset is an empty segment: either refused naming cu_seqlens, or the same as leaving it out.
    x = _packed_inputs()
    try:
        out = form_fn(form)(**x, cu_seqlens=torch.tensor([0, 4, 4, 10]))
    except ValueError as err:
        assert re.search(_word("cu_seqlens"), str(err)), f"the message does not name cu_seqlens: {err}"
        return
    assert torch.equal(out, form_fn(form)(**x, cu_seqlens=torch.tensor([0, 4, 10])))


@pytest.mark.parametrize("form", FORMS)
def test_cu_seqlens_needs_batch_of_one(form: str) -> None:
    with pytest.raises(ValueError, match=_word("cu_seqlens")):
        form_fn(form)(**_inputs("s"), cu_seqlens=torch.tensor([0, 2, T]))


@pytest.mark.parametrize("form", FORMS)
def test_cu_seqlens_must_be_integer(form: str) -> None:
    with pytest.raises((ValueError, TypeError), match=_word("cu_seqlens")):
        form_fn(form)(**_packed_inputs(), cu_seqlens=torch.tensor([0.0, 4.0, 10.0]))


@pytest.mark.parametrize("form", FORMS)
def test_non_bool_attention_mask_is_exact_or_rejected(form: str) -> None:
    # The contract is a bool mask; a 0/1 integer mask may be refused (naming attention_mask) or read the same way.
    x = _inputs("s")
    mask = torch.tensor([[True] * T, [False, True, True, False, True, True]])
    try:
        out = form_fn(form)(**x, attention_mask=mask.long())
    except (ValueError, TypeError) as err:
        assert re.search(_word("attention_mask"), str(err)), f"the message does not name attention_mask: {err}"
        return
    assert torch.equal(out, form_fn(form)(**x, attention_mask=mask))

"""Training sanity: a few AdamW steps reduce the loss on a fixed batch, and every parameter gets a gradient."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from lion_attn.models import (
    LionAttentionConfig,
    LionBertConfig,
    LionForMaskedLM,
    LionForSequenceClassification,
    LionLRAClassifier,
    LionLRAConfig,
    LionLRADualClassifier,
    LionViT,
    LionViTConfig,
)


def vit_case(variant, two_scan=False):
    cfg = LionViTConfig(
        img_size=8,
        patch_size=2,
        in_chans=1,
        num_classes=3,
        embed_dim=16,
        depth=2,
        num_heads=2,
        variant=variant,
        two_scan=two_scan,
    )
    model = LionViT(cfg)
    # Images are noisy copies of one prototype per class, so the labels are learnable.
    y = torch.arange(8) % 3
    x = 2.0 * torch.randn(3, 1, 8, 8)[y] + 0.5 * torch.randn(8, 1, 8, 8)
    return model, lambda m: F.cross_entropy(m(x), y)


def bert_mlm_case(variant):
    cfg = LionBertConfig(
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        hidden_dropout_prob=0.0,
        attention=LionAttentionConfig(variant=variant),
    )
    model = LionForMaskedLM(cfg)
    ids = torch.randint(1, 30, (4, 12))
    mask = torch.ones(4, 12, dtype=torch.bool)
    mask[0, 8:] = False
    labels = ids.masked_fill(~mask, -100)
    return model, lambda m: m(ids, mask, labels=labels).loss


def bert_cls_case(variant):
    cfg = LionBertConfig(
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        hidden_dropout_prob=0.0,
        attention=LionAttentionConfig(variant=variant),
        type_vocab_size=2,
    )
    model = LionForSequenceClassification(cfg)
    ids = torch.randint(1, 30, (6, 10))
    types = torch.randint(0, 2, (6, 10))
    labels = torch.randint(0, 2, (6,))
    return model, lambda m: m(ids, token_type_ids=types, labels=labels).loss


def lra_case(variant, dual=False, pooling="cls"):
    cfg = LionLRAConfig(
        vocab_size=20,
        max_len=16,
        embed_dim=16,
        depth=2,
        num_heads=2,
        num_classes=3,
        variant=variant,
        dual=dual,
        pooling=pooling,
    )
    if dual:
        model = LionLRADualClassifier(cfg)
        a, b = torch.randint(1, 20, (6, 12)), torch.randint(1, 20, (6, 9))
        y = (a[:, 0] + b[:, 0]) % 3
        return model, lambda m: F.cross_entropy(m(a, b), y)
    model = LionLRAClassifier(cfg)
    ids = torch.randint(1, 20, (6, 16))
    # The label is a function of the first token, so it is learnable.
    y = ids[:, 0] % 3
    return model, lambda m: F.cross_entropy(m(ids), y)


CASES = {
    **{f"vit-{v}": (vit_case, (v,)) for v in ("lit", "d", "s")},
    **{f"vit-{v}nat": (vit_case, (v, True)) for v in ("d", "s")},
    **{f"mlm-{v}": (bert_mlm_case, (v,)) for v in ("lit", "d", "s")},
    "cls-s": (bert_cls_case, ("s",)),
    "lra-lit": (lra_case, ("lit", False, "mean")),
    "lra-s": (lra_case, ("s",)),
    "lra-dual-d": (lra_case, ("d", True, "mean")),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_loss_decreases_and_all_params_get_gradients(case):
    torch.manual_seed(0)
    build, args = CASES[case]
    model, loss_fn = build(*args)
    model.train()
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2, weight_decay=0.0)
    first = loss_fn(model)
    first.backward()
    no_grad = [n for n, p in model.named_parameters() if p.grad is None or not torch.any(p.grad != 0)]
    assert not no_grad, f"parameters without gradient: {no_grad}"
    opt.step()
    opt.zero_grad()
    for _ in range(11):
        loss = loss_fn(model)
        loss.backward()
        opt.step()
        opt.zero_grad()
    final = loss_fn(model).item()
    assert final < 0.8 * first.item(), f"loss {first.item():.4f} -> {final:.4f}"


@pytest.mark.parametrize("variant", ["d", "s"])
def test_decay_parameters_are_trained(variant):
    torch.manual_seed(0)
    model, loss_fn = vit_case(variant, two_scan=True)
    names = [n for n, _ in model.named_parameters() if "decay" in n]
    assert names, "no decay parameters found"
    before = {n: p.detach().clone() for n, p in model.named_parameters() if n in names}
    opt = torch.optim.SGD(model.parameters(), lr=0.5)
    loss_fn(model).backward()
    opt.step()
    changed = [n for n, p in model.named_parameters() if n in names and not torch.equal(p, before[n])]
    assert changed == names


def test_training_in_chunk_form_matches_parallel_gradients():
    torch.manual_seed(0)
    model, loss_fn = bert_mlm_case("s")
    model.double()
    grads = {}
    for mode in ("parallel", "chunk", "recurrent"):
        model.zero_grad()
        model.set_attn_mode(mode)
        loss_fn(model).backward()
        grads[mode] = torch.cat([p.grad.flatten() for p in model.parameters()])
    for mode in ("chunk", "recurrent"):
        err = ((grads[mode] - grads["parallel"]).abs().max() / grads["parallel"].abs().max()).item()
        assert err < 1e-9, f"{mode}: {err}"

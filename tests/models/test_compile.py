"""torch.compile keeps working: a tiny LION ViT and BERT train a few steps compiled, with the eager numbers.

Two steps of AdamW from the same initial weights, eager and compiled, in the parallel and chunk forms; losses and
final weights agree to 1e-4. The default run uses the ``aot_eager`` backend (Dynamo's graph capture and
AOTAutograd, which is where LION's autograd Functions, autocast regions and value-dependent code would break);
``-m slow`` adds the default Inductor backend, which also generates and compiles C++ kernels.
"""

from __future__ import annotations

import copy
from collections.abc import Callable

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from lion_attn.models import LionAttentionConfig, LionBertConfig, LionForMaskedLM, LionViT, LionViTConfig
from tests.devices import DEVICES


def _vit(mode: str, device: str) -> tuple[nn.Module, Callable[[nn.Module], torch.Tensor]]:
    torch.manual_seed(0)
    cfg = LionViTConfig(
        img_size=8, patch_size=2, in_chans=1, num_classes=3, embed_dim=16, depth=2, num_heads=2, variant="s"
    )
    model = LionViT(cfg).to(device)
    model.set_attn_mode(mode)
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 1, 8, 8, generator=gen).to(device)
    y = (torch.arange(4) % 3).to(device)
    return model, lambda m: F.cross_entropy(m(x), y)


def _bert(mode: str, device: str) -> tuple[nn.Module, Callable[[nn.Module], torch.Tensor]]:
    torch.manual_seed(0)
    cfg = LionBertConfig(
        vocab_size=30,
        hidden_size=16,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=16,
        hidden_dropout_prob=0.0,
        attention=LionAttentionConfig(variant="d", mode=mode, chunk_size=5),
    )
    model = LionForMaskedLM(cfg).to(device)
    gen = torch.Generator().manual_seed(1)
    ids = torch.randint(1, 30, (3, 12), generator=gen).to(device)
    return model, lambda m: m(ids, labels=ids).loss


def _train(model: nn.Module, loss_fn: Callable[[nn.Module], torch.Tensor], steps: int) -> list[float]:
    opt = torch.optim.AdamW(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(steps):
        opt.zero_grad()
        loss = loss_fn(model)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    return losses


def _check(build: Callable, mode: str, device: str, backend: str) -> None:
    eager, loss_fn = build(mode, device)
    compiled_model = copy.deepcopy(eager)
    torch._dynamo.reset()
    compiled = torch.compile(compiled_model, backend=backend)
    eager_losses = _train(eager, loss_fn, 2)
    compiled_losses = _train(compiled, loss_fn, 2)
    assert compiled_losses == pytest.approx(eager_losses, rel=1e-4, abs=1e-6)
    for (name, a), b in zip(eager.named_parameters(), compiled_model.parameters(), strict=True):
        torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5, msg=name)


SLOW = pytest.mark.slow
# Tracing takes most of a case's time (tens of seconds on a loaded 2-core machine): one case runs by default.
AOT_CASES = [
    pytest.param(build, mode, id=f"{name}-{mode}", marks=() if name == "bert" and mode == "parallel" else SLOW)
    for build, name in ((_vit, "vit"), (_bert, "bert"))
    for mode in ("parallel", "chunk")
]


@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize(("build", "mode"), AOT_CASES)
def test_compiled_training_matches_eager_aot(build: Callable, mode: str, device: str) -> None:
    _check(build, mode, device, "aot_eager")


@pytest.mark.slow
@pytest.mark.parametrize("device", DEVICES)
@pytest.mark.parametrize("mode", ["parallel", "chunk"])
@pytest.mark.parametrize("build", [_vit, _bert], ids=["vit", "bert"])
def test_compiled_training_matches_eager_inductor(build: Callable, mode: str, device: str) -> None:
    _check(build, mode, device, "inductor")

"""save_pretrained / from_pretrained / load_pretrained round trips and their errors."""

from __future__ import annotations

import json

import pytest
import torch
from safetensors.torch import load_file

from lion_attn.models import (
    LionBertConfig,
    LionForMaskedLM,
    LionForSequenceClassification,
    LionLRAClassifier,
    LionLRAConfig,
    LionLRADualClassifier,
    LionViT,
    LionViTConfig,
    load_pretrained,
)

BERT = LionBertConfig(
    vocab_size=40,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
    num_labels=3,
)
VIT = LionViTConfig(
    img_size=(8, 12),
    patch_size=4,
    in_chans=2,
    num_classes=4,
    embed_dim=16,
    depth=2,
    num_heads=2,
    variant="d",
    two_scan=True,
)
LRA = LionLRAConfig(vocab_size=20, max_len=16, embed_dim=16, depth=1, num_heads=2, num_classes=2, pooling="cls")


def _inputs(model):
    torch.manual_seed(1)
    if isinstance(model, LionViT):
        return (torch.randn(2, 2, 8, 12),)
    if isinstance(model, LionLRADualClassifier):
        return (torch.randint(1, 20, (2, 7)), torch.randint(1, 20, (2, 5)))
    vocab = model.config.vocab_size
    ids = torch.randint(1, vocab, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.bool)
    mask[1, :3] = False
    return ids, mask


def _out(model, inputs):
    out = model(*inputs)
    return getattr(out, "logits", out)


FACTORIES = {
    "vit": lambda: LionViT(VIT),
    "mlm": lambda: LionForMaskedLM(BERT),
    "cls": lambda: LionForSequenceClassification(BERT),
    "lra": lambda: LionLRAClassifier(LRA),
    "lra_dual": lambda: LionLRADualClassifier(LRA.replace(dual=True, pooling="mean")),
}


@pytest.mark.parametrize("kind", sorted(FACTORIES))
def test_round_trip(kind, tmp_path, device):
    torch.manual_seed(0)
    model = FACTORIES[kind]()
    # Move parameters off their initial values so a reload that silently re-initialises would be caught.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    # Saved from the device, reloaded (on the CPU) and moved back: the device must not change what is stored.
    model.to(device)
    model.set_attn_mode("chunk")
    model.eval()
    model.save_pretrained(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["config.json", "model.safetensors"]
    data = json.loads((tmp_path / "config.json").read_text())
    assert data["family"] == model.config.family
    assert data["architectures"] == [type(model).__name__]
    assert "lion_attn_version" in data
    assert data["attention"]["mode"] == "chunk"

    inputs = tuple(x.to(device) for x in _inputs(model))
    for loader in (type(model).from_pretrained, load_pretrained):
        loaded = loader(tmp_path).to(device).eval()
        assert type(loaded) is type(model)
        assert loaded.config == model.config
        assert loaded.attn_modes == model.attn_modes
        assert torch.equal(_out(loaded, inputs), _out(model, inputs))


def test_tied_weights_saved_once_and_retied(tmp_path):
    model = LionForMaskedLM(BERT)
    model.save_pretrained(tmp_path)
    keys = set(load_file(str(tmp_path / "model.safetensors")))
    assert "bert.embeddings.word_embeddings.weight" in keys
    assert "head.decoder.weight" not in keys
    loaded = LionForMaskedLM.from_pretrained(tmp_path)
    assert loaded.head.decoder.weight is loaded.bert.embeddings.word_embeddings.weight
    assert torch.equal(loaded.head.decoder.weight, model.bert.embeddings.word_embeddings.weight)


def test_overwrite_leaves_no_temp_files(tmp_path):
    model = LionLRAClassifier(LRA)
    model.save_pretrained(tmp_path)
    model.save_pretrained(tmp_path)
    assert sorted(f.name for f in tmp_path.iterdir()) == ["config.json", "model.safetensors"]


def test_other_family_raises(tmp_path):
    LionViT(VIT).save_pretrained(tmp_path)
    with pytest.raises(ValueError, match="'vit' model"):
        LionForMaskedLM.from_pretrained(tmp_path)


def test_same_family_other_head_loads_encoder(tmp_path):
    mlm = LionForMaskedLM(BERT)
    mlm.save_pretrained(tmp_path)
    clf = LionForSequenceClassification.from_pretrained(tmp_path)
    for name, tensor in mlm.bert.state_dict().items():
        assert torch.equal(clf.bert.state_dict()[name], tensor), name


def test_mismatched_weights_raise(tmp_path):
    LionLRAClassifier(LRA).save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["depth"] = 2
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="missing"):
        LionLRAClassifier.from_pretrained(tmp_path)


def test_missing_directory_and_unknown_field(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"config\.json"):
        load_pretrained(tmp_path / "nope")
    LionLRAClassifier(LRA).save_pretrained(tmp_path)
    data = json.loads((tmp_path / "config.json").read_text())
    data["warp_factor"] = 9
    (tmp_path / "config.json").write_text(json.dumps(data))
    with pytest.raises(ValueError, match="warp_factor"):
        load_pretrained(tmp_path)

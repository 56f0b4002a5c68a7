"""The optional transformers adapter: Auto classes load directories written by save_pretrained, and back."""

from __future__ import annotations

import pytest
import torch

transformers = pytest.importorskip("transformers")

# E402: these imports must follow importorskip, so the module is skipped cleanly without transformers.

from lion_attn import hf  # noqa: E402
from lion_attn.models import (  # noqa: E402
    LionAttentionConfig,
    LionBertConfig,
    LionBertModel,
    LionForMaskedLM,
    LionForSequenceClassification,
    load_pretrained,
)

CFG = LionBertConfig(
    vocab_size=40,
    hidden_size=16,
    num_hidden_layers=2,
    num_attention_heads=2,
    intermediate_size=32,
    max_position_embeddings=16,
    hidden_dropout_prob=0.0,
    num_labels=3,
    attention=LionAttentionConfig(chunk_size=4),
)


def _batch():
    torch.manual_seed(3)
    ids = torch.randint(1, 40, (2, 9))
    mask = torch.ones(2, 9, dtype=torch.long)
    mask[1, :3] = 0
    return ids, mask


@pytest.fixture(scope="module")
def mlm_dir(tmp_path_factory):
    torch.manual_seed(0)
    model = LionForMaskedLM(CFG).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.add_(0.01 * torch.randn_like(p))
    path = tmp_path_factory.mktemp("mlm")
    model.save_pretrained(path)
    return path, model


def test_auto_config(mlm_dir):
    path, _ = mlm_dir
    config = transformers.AutoConfig.from_pretrained(path)
    assert isinstance(config, hf.LionBertHFConfig)
    assert config.num_labels == 3 and config.attention["variant"] == "s" and config.hidden_size == 16
    assert hf.to_lion_config(config) == CFG


def test_auto_masked_lm_gives_identical_outputs(mlm_dir):
    path, model = mlm_dir
    auto = transformers.AutoModelForMaskedLM.from_pretrained(path).eval()
    assert isinstance(auto, hf.LionBertHFForMaskedLM)
    assert auto.head.decoder.weight is auto.bert.embeddings.word_embeddings.weight
    ids, mask = _batch()
    labels = ids.clone()
    expected = model(ids, mask.bool(), labels=labels)
    out = auto(input_ids=ids, attention_mask=mask, labels=labels)
    assert torch.equal(out.logits, expected.logits)
    assert torch.equal(out.loss, expected.loss)
    auto.set_attn_mode("recurrent")
    assert auto.to_lion().attn_modes == {"recurrent"}
    again = auto(input_ids=ids, attention_mask=mask).logits
    assert ((again - expected.logits).abs().max() / expected.logits.abs().max()).item() < 1e-4


def test_auto_classification_and_base_from_mlm_checkpoint(mlm_dir):
    path, model = mlm_dir
    clf = transformers.AutoModelForSequenceClassification.from_pretrained(path).eval()
    assert isinstance(clf, hf.LionBertHFForSequenceClassification)
    assert clf.classifier.out_features == 3
    base = transformers.AutoModel.from_pretrained(path).eval()
    assert isinstance(base, hf.LionBertHFModel)
    ids, mask = _batch()
    expected = model.bert(ids, mask).last_hidden_state
    assert torch.equal(base(input_ids=ids, attention_mask=mask).last_hidden_state, expected)
    with pytest.raises(TypeError, match="labels: LionBertHFModel has no task head"):
        base(input_ids=ids, attention_mask=mask, labels=torch.zeros(ids.shape[0], dtype=torch.long))
    # transformers' positional order (position_ids before labels), as in BertForSequenceClassification.
    labels = torch.tensor([0, 2])
    positional = clf(ids, mask, None, None, labels)
    assert torch.equal(positional.loss, clf(input_ids=ids, attention_mask=mask, labels=labels).loss)
    assert torch.equal(clf.bert.embeddings.word_embeddings.weight, model.bert.embeddings.word_embeddings.weight)


def test_wrapper_save_loads_back_into_pure_model(mlm_dir, tmp_path):
    path, model = mlm_dir
    auto = transformers.AutoModelForMaskedLM.from_pretrained(path)
    auto.save_pretrained(tmp_path)
    back = LionForMaskedLM.from_pretrained(tmp_path).eval()
    ids, mask = _batch()
    assert torch.equal(back(ids, mask).logits, model(ids, mask).logits)
    assert isinstance(load_pretrained(tmp_path), LionForMaskedLM)


def test_wrappers_share_parameter_names_with_pure_models():
    config = hf.from_lion_config(CFG)
    for wrapper, pure in [
        (hf.LionBertHFModel, LionBertModel),
        (hf.LionBertHFForMaskedLM, LionForMaskedLM),
        (hf.LionBertHFForSequenceClassification, LionForSequenceClassification),
    ]:
        assert set(wrapper(config).state_dict()) == set(pure(CFG).state_dict())


# Checkpoints written by `lion train` are complete transformers model folders ---------------------------------

TINY_ARGS = [
    *("--model-arg", "num_hidden_layers=1", "--model-arg", "hidden_size=32"),
    *("--model-arg", "num_attention_heads=2", "--model-arg", "intermediate_size=64"),
    *("--seq-len", "32", "--epochs", "1", "--batch-size", "16", "--no-progress"),
]


@pytest.fixture(scope="module")
def cli_mlm(tmp_path_factory):
    from lion_attn.train.cli import main

    root = tmp_path_factory.mktemp("cli-mlm")
    words = [
        *["emma", "harriet", "knightley", "elton", "anne", "wentworth", "elizabeth"],
        *["darcy", "bingley", "jane", "was", "very", "kind", "and"],
    ]
    (root / "book.txt").write_text("\n\n".join(" ".join(words[i % 15 :] + words[: i % 15]) for i in range(150)))
    argv = [
        "train",
        "mlm",
        "--text",
        str(root / "book.txt"),
        "--vocab-size",
        "80",
        *TINY_ARGS,
        "--out",
        str(root / "o"),
    ]
    assert main(argv) == 0
    return root / "o" / "checkpoints" / "last"


def _mask_probs(folder, ids):
    pure = load_pretrained(folder).eval()
    with torch.no_grad():
        logits = pure(torch.tensor([ids])).logits[0]
    return logits.softmax(-1)


def test_mlm_checkpoint_tokenizer_and_fill_mask(cli_mlm):
    from lion_attn.data import load_tokenizer

    tok = transformers.AutoTokenizer.from_pretrained(cli_mlm)
    ours = load_tokenizer(cli_mlm)
    text = "emma was very [MASK] and kind"
    ids = tok(text)["input_ids"]
    assert ids == [ours.cls_id, *ours.encode("emma was very"), ours.mask_id, *ours.encode("and kind"), ours.sep_id]
    fill = transformers.pipeline("fill-mask", model=str(cli_mlm))
    top = fill(text, top_k=3)
    probs = _mask_probs(cli_mlm, ids)[ids.index(ours.mask_id)]
    expected = probs.topk(3)
    assert [r["token"] for r in top] == expected.indices.tolist()
    assert [r["score"] for r in top] == pytest.approx(expected.values.tolist(), rel=1e-4)


def test_byte_level_checkpoint_fill_mask(tmp_path):
    from lion_attn.data import ByteTokenizer

    tok = ByteTokenizer()
    cfg = LionBertConfig(vocab_size=tok.vocab_size, hidden_size=16, num_hidden_layers=1, num_attention_heads=2,
                         intermediate_size=32, max_position_embeddings=64)  # fmt: skip
    torch.manual_seed(0)
    LionForMaskedLM(cfg).save_pretrained(tmp_path)
    tok.save(tmp_path, model_max_length=64)
    top = transformers.pipeline("fill-mask", model=str(tmp_path))("Emm[MASK]!", top_k=2)
    ids = [tok.cls_id, *tok.encode("Emm"), tok.mask_id, *tok.encode("!"), tok.sep_id]
    expected = _mask_probs(tmp_path, ids)[4].topk(2)
    assert [r["token"] for r in top] == expected.indices.tolist()


def test_glue_checkpoint_text_classification_pipeline(tmp_path):
    import sys
    from pathlib import Path

    from lion_attn.train.cli import main

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "train"))
    from glue_fixtures import write_task

    folder = write_task(tmp_path / "glue", "rte")
    argv = ["train", "glue", "--task", "rte", "--data", str(folder), "--vocab-size", "80", *TINY_ARGS]
    assert main([*argv, "--out", str(tmp_path / "o")]) == 0
    ckpt = tmp_path / "o" / "checkpoints" / "last"
    clf = transformers.pipeline("text-classification", model=str(ckpt))
    out = clf({"text": "emma harriet knightley", "text_pair": "emma darcy jane"}, top_k=None)
    assert {r["label"] for r in out} == {"entailment", "not_entailment"}
    tok = transformers.AutoTokenizer.from_pretrained(ckpt)
    enc = tok("emma harriet knightley", "emma darcy jane", return_tensors="pt")
    pure = load_pretrained(ckpt).eval()
    with torch.no_grad():
        probs = pure(enc["input_ids"], token_type_ids=enc["token_type_ids"]).logits.softmax(-1)[0]
    by_label = {r["label"]: r["score"] for r in out}
    assert [by_label["entailment"], by_label["not_entailment"]] == pytest.approx(probs.tolist(), rel=1e-4)


def test_transformers_trainer_fine_tunes_an_mlm_checkpoint(cli_mlm, tmp_path):
    pytest.importorskip("accelerate")
    tok = transformers.AutoTokenizer.from_pretrained(cli_mlm)
    model = transformers.AutoModelForSequenceClassification.from_pretrained(cli_mlm, num_labels=2)
    before = model.classifier.weight.detach().clone()
    texts = [("emma was very kind", 1), ("darcy was very kind", 0)] * 8
    data = [{**tok(t, truncation=True, max_length=32), "labels": y} for t, y in texts]
    args = transformers.TrainingArguments(
        output_dir=str(tmp_path / "hf"),
        max_steps=4,
        per_device_train_batch_size=4,
        learning_rate=1e-3,
        report_to=[],
        save_strategy="no",
        use_cpu=True,
        logging_steps=1,
    )
    trainer = transformers.Trainer(
        model=model, args=args, train_dataset=data, data_collator=transformers.DataCollatorWithPadding(tok)
    )
    result = trainer.train()
    assert result.global_step == 4 and torch.isfinite(torch.tensor(result.training_loss))
    assert not torch.equal(model.classifier.weight.detach(), before)
    trainer.save_model(str(tmp_path / "ft"))
    assert isinstance(load_pretrained(tmp_path / "ft"), LionForSequenceClassification)


def test_auto_config_reads_a_checkpoint_with_flat_attention_fields():
    # config.json as written before the nested attention config: lion_variant, attn_mode, ... at the top level.
    from pathlib import Path

    legacy = Path(__file__).parent / "fixtures" / "legacy_bert"
    config = transformers.AutoConfig.from_pretrained(legacy)
    lion = hf.to_lion_config(config)
    assert lion.attention == LionAttentionConfig(
        variant="d", mode="chunk", chunk_size=3, decay_init="long", qkv_bias=False, eps=1e-5
    )
    assert (lion.hidden_size, lion.vocab_size) == (8, 30)


def test_wrapper_set_attn_mode_is_saved_in_the_nested_config(mlm_dir, tmp_path):
    path, _ = mlm_dir
    wrapper = transformers.AutoModelForMaskedLM.from_pretrained(path)
    wrapper.set_attn_mode("recurrent")
    assert wrapper.config.attention["mode"] == "recurrent"
    assert hf.to_lion_config(wrapper.config).attention.mode == "recurrent"

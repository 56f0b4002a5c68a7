"""The top-level public API is pinned: additions are deliberate, removals are breaking."""

import subprocess
import sys

import lion_attn

EXPECTED = {
    "MODES",
    "Block",
    "LionAttention",
    "LionBertConfig",
    "LionBertModel",
    "LionForMaskedLM",
    "LionForSequenceClassification",
    "LionLRAClassifier",
    "LionLRAConfig",
    "LionLRADualClassifier",
    "LionViT",
    "LionViTConfig",
    "SoftmaxAttention",
    "__version__",
    "chunk_lion",
    "create_model",
    "get_attn_modes",
    "get_model_config",
    "lion_attention",
    "list_models",
    "load_pretrained",
    "parallel_lion",
    "recurrent_lion",
    "register_model",
    "set_attn_mode",
}


def test_all_is_pinned():
    assert set(lion_attn.__all__) == EXPECTED
    for name in EXPECTED:
        assert hasattr(lion_attn, name), name


def test_importing_the_package_leaves_the_cli_and_data_layers_out():
    code = (
        "import sys, lion_attn; "
        "print(sorted(m for m in sys.modules if m.startswith(('lion_attn.train', 'lion_attn.data'))))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert out == "[]"

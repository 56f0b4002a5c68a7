"""The top-level public API is pinned: additions are deliberate, removals are breaking."""

import subprocess
import sys

import lion_attn

EXPECTED = {
    "MODES",
    "Block",
    "LionAttention",
    "LionAttentionConfig",
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


# Run in a fresh interpreter in which importing numpy fails the way it does where numpy is not installed.
_WITHOUT_NUMPY = """
import importlib.abc, sys

class _NoNumpy(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "numpy" or name.startswith("numpy."):
            raise ModuleNotFoundError(f"No module named {name!r}")
        return None

sys.meta_path.insert(0, _NoNumpy())
import torch
import lion_attn
from lion_attn import create_model, layers, models, ops

x = torch.randn(2, 7, 2, 4, requires_grad=True)
y = lion_attn.lion_attention(x, x, x, g_gamma=torch.full((2,), -0.1), mode="chunk", chunk_size=3)
y.sum().backward()
model = create_model("lion_s_vit_nano_patch4_28", depth=1)
model.set_attn_mode("recurrent")
model(torch.randn(1, 1, 28, 28)).sum().backward()
print(sorted(m for m in sys.modules if m == "numpy" or m.startswith("numpy.")))
"""


def test_the_op_layers_and_models_run_without_numpy():
    # numpy belongs to the `train` extra: only lion_attn.data and lion_attn.train import it.
    out = subprocess.run([sys.executable, "-c", _WITHOUT_NUMPY], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "[]"


def test_version_has_one_source():
    from lion_attn._version import __version__

    assert lion_attn.__version__ == __version__
    assert lion_attn.__version__.count(".") >= 2

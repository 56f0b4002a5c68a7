"""The public names of lion_attn.layers are pinned."""

from __future__ import annotations

import lion_attn.layers as layers

EXPECTED = {
    "ATTN_LAYERS",
    "DECAYS",
    "DECAY_INITS",
    "DEFAULT_FEATURE_MAPS",
    "FEATURE_MAPS",
    "Block",
    "DropPath",
    "LionAttention",
    "Mlp",
    "PatchEmbed",
    "ScalarDecay",
    "SelectiveDecay",
    "SoftmaxAttention",
    "build_decay",
    "check_attention_dropout",
    "check_mode",
    "drop_path",
    "get_attn_modes",
    "get_feature_map",
    "list_decays",
    "list_feature_maps",
    "long_memory_decays",
    "register_decay",
    "register_feature_map",
    "set_attn_mode",
    "snake_orders",
}


def test_all_is_pinned() -> None:
    assert set(layers.__all__) == EXPECTED
    for name in layers.__all__:
        assert hasattr(layers, name), name


def test_layers_use_the_ops_list_of_forms_and_its_check() -> None:
    from lion_attn.ops import MODES, inputs

    assert MODES == ("parallel", "chunk", "recurrent")
    assert layers.check_mode is inputs.check_mode

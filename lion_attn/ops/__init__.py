"""The LION op: bidirectional linear attention in three exact forms (parallel, chunk, recurrent)."""

from lion_attn.ops.api import FORMS, chunk_lion, lion_attention, parallel_lion, recurrent_lion
from lion_attn.ops.inputs import MODES
from lion_attn.ops.scans import lion_attention_scans, parallel_lion_scans

__all__ = [
    "FORMS",
    "MODES",
    "chunk_lion",
    "lion_attention",
    "lion_attention_scans",
    "parallel_lion",
    "parallel_lion_scans",
    "recurrent_lion",
]

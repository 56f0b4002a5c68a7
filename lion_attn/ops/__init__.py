"""The LION op: bidirectional linear attention in three exact forms (parallel, chunk, recurrent)."""

from lion_attn.ops.api import FORMS, chunk_lion, lion_attention, parallel_lion, recurrent_lion
from lion_attn.ops.inputs import MODES

__all__ = ["FORMS", "MODES", "chunk_lion", "lion_attention", "parallel_lion", "recurrent_lion"]

"""lion-attn."""

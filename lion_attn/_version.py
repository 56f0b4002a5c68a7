"""The library's version: the single source read by the build (hatch) and by ``lion_attn.__version__``."""

__version__ = "0.1.0"

"""Trainer config readers and snippet writers (Megatron-LM, GPT-NeoX, HF, torchtitan, nanotron,
nanoGPT, hpadvisor's run file).  See :mod:`hpadvisor.formats.base` and docs/formats.md."""

from hpadvisor.formats.base import CANONICAL, FORMATS, Setting, TrainerConfig
from hpadvisor.formats.registry import detect_format, dump_snippet, read_config

__all__ = [
    "CANONICAL",
    "FORMATS",
    "Setting",
    "TrainerConfig",
    "detect_format",
    "dump_snippet",
    "read_config",
]

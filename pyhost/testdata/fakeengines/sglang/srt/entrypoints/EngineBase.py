# FAKE sglang (enginebench test double) -- sglang/srt/entrypoints/EngineBase.py
from abc import ABC


class EngineBase(ABC):
    """Abstract base class for engine interfaces (FAKE)."""

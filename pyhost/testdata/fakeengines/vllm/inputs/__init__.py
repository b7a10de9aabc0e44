# FAKE vllm (enginebench test double) -- vllm/inputs/__init__.py exports (subset).
from .llm import (
    DecoderOnlyPrompt,
    EmbedsPrompt,
    PromptType,
    SingletonPrompt,
    TextPrompt,
    TokensPrompt,
)

__all__ = [
    "TextPrompt",
    "TokensPrompt",
    "PromptType",
    "SingletonPrompt",
    "EmbedsPrompt",
    "DecoderOnlyPrompt",
]

# FAKE vllm (enginebench test double) -- prompt schemas of vllm/inputs/llm.py
# (vLLM 0.32.0). TypedDicts, so TokensPrompt(prompt_token_ids=[...]) is a dict;
# __required_keys__ == {'prompt_token_ids'} as in the real one.
from __future__ import annotations

from typing import Any, TypedDict, Union


class _PromptOptions(TypedDict, total=False):
    """Additional options available to all SingletonPrompt types."""

    multi_modal_data: Any
    media_io_kwargs: Any
    mm_processor_kwargs: Any
    multi_modal_uuids: Any
    cache_salt: str


class _TextPromptOptional(_PromptOptions, total=False):
    pass


class TextPrompt(_TextPromptOptional):
    """Schema for a text prompt."""

    prompt: str


class _TokensPromptOptional(_PromptOptions, total=False):
    prompt: str
    token_type_ids: list[int]
    prompt_token_offsets: Any


class TokensPrompt(_TokensPromptOptional):
    """Schema for a tokenized prompt."""

    prompt_token_ids: list[int]


class EmbedsPrompt(_PromptOptions, total=False):
    """Schema for a prompt provided via token embeddings (not supported by the fake)."""

    prompt_embeds: Any


SingletonPrompt = Union[str, TextPrompt, list, TokensPrompt, EmbedsPrompt]
PromptType = SingletonPrompt
DecoderOnlyPrompt = SingletonPrompt

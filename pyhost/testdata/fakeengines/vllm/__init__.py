"""FAKE vLLM: an enginebench TEST DOUBLE, not the real inference engine.

It keeps the API surface of vLLM 0.32.0 that enginebench's adapter uses
(names, signatures, return types and fields) and returns deterministic tokens
without any model. Never use it in a demo or a report. See ../README.md.
"""

# Same shape as the real vllm/__init__.py: version first, lazy attributes.
from .version import __version__, __version_tuple__  # isort:skip

import typing

#: Marker for code that must refuse to report numbers from a fake engine.
__enginebench_fake__ = True
#: The real vLLM release whose API this fake copies.
FAKE_MIMICS_VERSION = "0.32.0"

MODULE_ATTRS = {
    "AsyncEngineArgs": ".engine.arg_utils:AsyncEngineArgs",
    "EngineArgs": ".engine.arg_utils:EngineArgs",
    "LLMEngine": ".engine.llm_engine:LLMEngine",
    "LLM": ".entrypoints.llm:LLM",
    "PromptType": ".inputs:PromptType",
    "TextPrompt": ".inputs:TextPrompt",
    "TokensPrompt": ".inputs:TokensPrompt",
    "SamplingParams": ".sampling_params:SamplingParams",
    "CompletionOutput": ".outputs:CompletionOutput",
    "RequestOutput": ".outputs:RequestOutput",
}


def __getattr__(name: str) -> typing.Any:
    from importlib import import_module

    if name in MODULE_ATTRS:
        module_name, attr_name = MODULE_ATTRS[name].split(":")
        module = import_module(module_name, __package__)
        return getattr(module, attr_name)
    raise AttributeError(f"module {__package__} has no attribute {name}")


__all__ = [
    "__version__",
    "__version_tuple__",
    "LLM",
    "PromptType",
    "TextPrompt",
    "TokensPrompt",
    "SamplingParams",
    "RequestOutput",
    "CompletionOutput",
    "LLMEngine",
    "EngineArgs",
    "AsyncEngineArgs",
]

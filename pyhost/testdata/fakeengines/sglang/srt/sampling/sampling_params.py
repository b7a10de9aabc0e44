# FAKE sglang (enginebench test double) -- sglang/srt/sampling/sampling_params.py
#
# Copied from SGLang 0.5.23: SamplingParams is a msgspec.Struct with
# kw_only=True (StructLike here), same field names/order/defaults,
# __post_init__, verify(vocab_size), normalize(tokenizer) and
# raise_if_tokenizer_required. Engine.generate builds it as
# SamplingParams(**sampling_params_dict), so an unknown key raises
#   TypeError: Unexpected keyword argument 'x'
# and, with skip_tokenizer_init=True, a `stop`/`stop_regex` or
# min_new_tokens > 0 raises ValueError from raise_if_tokenizer_required.
from __future__ import annotations

import math

from _enginebench_fake import StructLike

_SAMPLING_EPS = 1e-6
TOP_K_ALL = 1 << 30
MAX_STOP_COUNT = 32
MAX_STOP_REGEX_LEN = 256
MAX_STOP_REGEX_COUNT = 32


class SamplingParams(StructLike):
    """The sampling parameters (FAKE; fields of SGLang 0.5.23)."""

    _kw_only = True
    _fields = [
        ("max_new_tokens", 128),
        ("stop", None),
        ("stop_token_ids", None),
        ("stop_regex", None),
        ("temperature", 1.0),
        ("top_p", 1.0),
        ("top_k", TOP_K_ALL),
        ("min_p", 0.0),
        ("frequency_penalty", 0.0),
        ("presence_penalty", 0.0),
        ("repetition_penalty", 1.0),
        ("min_new_tokens", 0),
        ("n", 1),
        ("beam_width", None),
        ("json_schema", None),
        ("regex", None),
        ("ebnf", None),
        ("structural_tag", None),
        ("ignore_eos", False),
        ("skip_special_tokens", True),
        ("spaces_between_special_tokens", True),
        ("no_stop_trim", False),
        ("stream_interval", None),
        ("logit_bias", None),
        ("sampling_seed", None),
        ("custom_params", None),
        ("watermark", None),
        # internal fields
        ("stop_strs", None),
        ("stop_regex_strs", None),
        ("stop_str_max_len", 0),
        ("stop_regex_max_len", 0),
        ("is_normalized", False),
        ("ebnf_full_assistant", False),
    ]

    def __post_init__(self):
        if self.is_normalized:
            return
        self.stop_strs = self.stop
        if self.stop_token_ids:
            filtered = {int(t) for t in self.stop_token_ids if t is not None}
            self.stop_token_ids = filtered or None
        else:
            self.stop_token_ids = None
        self.stop_regex_strs = self.stop_regex
        self.temperature = self.temperature if self.temperature is not None else 1.0
        self.top_p = self.top_p if self.top_p is not None else 1.0
        self.top_k = self.top_k if self.top_k is not None else -1
        self.min_p = self.min_p if self.min_p is not None else 0.0
        self.frequency_penalty = self.frequency_penalty if self.frequency_penalty is not None else 0.0
        self.presence_penalty = self.presence_penalty if self.presence_penalty is not None else 0.0
        self.repetition_penalty = self.repetition_penalty if self.repetition_penalty is not None else 1.0
        self.min_new_tokens = self.min_new_tokens if self.min_new_tokens is not None else 0
        self.n = self.n if self.n is not None else 1
        self.ignore_eos = self.ignore_eos if self.ignore_eos is not None else False
        self.skip_special_tokens = self.skip_special_tokens if self.skip_special_tokens is not None else True
        self.spaces_between_special_tokens = (
            self.spaces_between_special_tokens if self.spaces_between_special_tokens is not None else True
        )
        self.no_stop_trim = self.no_stop_trim if self.no_stop_trim is not None else False
        self.json_schema = self.json_schema or None
        self.regex = self.regex or None
        self.ebnf = self.ebnf or None
        self.structural_tag = self.structural_tag or None
        if 0 <= self.temperature < _SAMPLING_EPS:
            # top_k = 1 means greedy sampling
            self.temperature = 1.0
            self.top_k = 1
        if self.top_k == -1:
            self.top_k = TOP_K_ALL

    def verify(self, vocab_size):
        if self.beam_width is not None and self.beam_width < 1:
            raise ValueError(f"beam_width must be at least 1, got {self.beam_width}.")
        if not math.isfinite(self.temperature) or self.temperature < 0.0:
            raise ValueError(f"temperature must be a non-negative finite number, got {self.temperature}.")
        if not 0.0 < self.top_p <= 1.0:
            raise ValueError(f"top_p must be in (0, 1], got {self.top_p}.")
        if not 0.0 <= self.min_p <= 1.0:
            raise ValueError(f"min_p must be in [0, 1], got {self.min_p}.")
        if self.top_k < 1 or self.top_k == -1:
            raise ValueError(f"top_k must be -1 (disable) or at least 1, got {self.top_k}.")
        if not -2.0 <= self.frequency_penalty <= 2.0:
            raise ValueError(f"frequency_penalty must be in [-2, 2], got {self.frequency_penalty}.")
        if not -2.0 <= self.presence_penalty <= 2.0:
            raise ValueError(f"presence_penalty must be in [-2, 2], got {self.presence_penalty}.")
        if not 0.0 < self.repetition_penalty <= 2.0:
            raise ValueError(
                "repetition_penalty must be in (0, 2] (1.0 = no penalty), "
                f"got {self.repetition_penalty}."
            )
        if not 0 <= self.min_new_tokens:
            raise ValueError(f"min_new_tokens must be in [0, max_new_tokens], got {self.min_new_tokens}.")
        if self.max_new_tokens is not None:
            if self.max_new_tokens < 0:
                raise ValueError(f"max_new_tokens must be at least 0, got {self.max_new_tokens}.")
            if not self.min_new_tokens <= self.max_new_tokens:
                raise ValueError(
                    f"min_new_tokens must be in [0, max_new_tokens({self.max_new_tokens})], got "
                    f"{self.min_new_tokens}."
                )
        if self.logit_bias is not None:
            for token_id in self.logit_bias:
                if not 0 <= int(token_id) < vocab_size:
                    raise ValueError(f"logit_bias must has keys in [0, {vocab_size - 1}], got {token_id}.")
        if self.sampling_seed is not None:
            if not isinstance(self.sampling_seed, int):
                raise ValueError(f"sampling_seed must be an integer, got {type(self.sampling_seed).__name__}.")
            if not -(2**63) <= self.sampling_seed <= 2**63 - 1:
                raise ValueError(f"sampling_seed must be in [-2**63, 2**63 - 1], got {self.sampling_seed}.")
        grammars = [self.json_schema, self.regex, self.ebnf, self.structural_tag]
        if sum(x is not None for x in grammars) > 1:
            raise ValueError("Only one of json_schema, regex, ebnf, or structural_tag can be set.")

    def normalize(self, tokenizer):
        if self.stop_strs is None:
            self.stop_strs = []
            self.stop_str_max_len = 0
        else:
            if isinstance(self.stop_strs, str):
                self.stop_strs = [self.stop_strs]
            if len(self.stop_strs) > MAX_STOP_COUNT:
                raise ValueError(f"at most {MAX_STOP_COUNT} stop strings are allowed, got {len(self.stop_strs)}")
            stop_str_max_len = 0
            for stop_str in self.stop_strs:
                if tokenizer is not None:
                    stop_str_max_len = max(stop_str_max_len, len(tokenizer.encode(stop_str, add_special_tokens=False)))
                else:
                    stop_str_max_len = max(stop_str_max_len, len(stop_str))
            self.stop_str_max_len = stop_str_max_len
        if self.stop_regex_strs is None:
            self.stop_regex_strs = []
            self.stop_regex_max_len = 0
        else:
            if isinstance(self.stop_regex_strs, str):
                self.stop_regex_strs = [self.stop_regex_strs]
            if len(self.stop_regex_strs) > MAX_STOP_REGEX_COUNT:
                raise ValueError(
                    f"at most {MAX_STOP_REGEX_COUNT} stop_regex patterns are allowed, "
                    f"got {len(self.stop_regex_strs)}"
                )
            self.stop_regex_max_len = max(len(s.encode("utf-8")) for s in self.stop_regex_strs) if self.stop_regex_strs else 0
        raise_if_tokenizer_required(tokenizer, self.stop_strs, self.stop_regex_strs, self.min_new_tokens)
        self.stop = None
        self.stop_regex = None
        self.is_normalized = True


def raise_if_tokenizer_required(tokenizer, stop_strs, stop_regex_strs, min_new_tokens=0):
    """Raise ValueError if tokenizer-dependent features are used without a tokenizer."""
    if tokenizer is not None:
        return
    if stop_strs:
        raise ValueError(
            f"stop={stop_strs!r} is unavailable when skip_tokenizer_init=True "
            "(requires tokenizer to decode tokens to text for matching)."
        )
    if stop_regex_strs:
        raise ValueError(
            f"stop_regex={stop_regex_strs!r} is unavailable when skip_tokenizer_init=True "
            "(requires tokenizer to decode tokens to text for matching)."
        )
    if min_new_tokens > 0:
        raise ValueError(
            f"min_new_tokens={min_new_tokens} is unavailable when skip_tokenizer_init=True "
            "(requires tokenizer for eos_token_id)."
        )

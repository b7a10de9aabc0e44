# FAKE vllm (enginebench test double) -- vllm/v1/engine/llm_engine.py (subset).
# Same constructor / from_engine_args signatures and the attributes an adapter
# reads (vllm_config, model_config, engine_core, log_stats) as vLLM 0.32.0.
from __future__ import annotations

import os
from typing import Any

import _enginebench_fake as F
from vllm.usage.usage_lib import UsageContext
from vllm.v1.engine.core_client import InprocClient, SyncMPClient


class LLMEngine:
    """Legacy LLMEngine for backwards compatibility (FAKE)."""

    def __init__(
        self,
        vllm_config,
        executor_class: Any = None,
        log_stats: bool = False,
        aggregate_engine_logging: bool = False,
        usage_context: UsageContext = UsageContext.ENGINE_CONTEXT,
        stat_loggers: list | None = None,
        mm_registry: Any = None,
        multiprocess_mode: bool = False,
    ) -> None:
        from vllm._fake_engine import FakeEngineCore

        self.vllm_config = vllm_config
        self.model_config = vllm_config.model_config
        self.log_stats = log_stats
        self._fake_control = F.load_control("vllm")
        self._fake_model_dir = F.ModelDir(self.model_config.model)
        core = FakeEngineCore(vllm_config, self._fake_control, self._fake_model_dir, log_stats)
        self._fake_core = core
        self.engine_core = SyncMPClient(core) if multiprocess_mode else InprocClient(core)

    @classmethod
    def from_vllm_config(cls, vllm_config, usage_context=UsageContext.ENGINE_CONTEXT,
                         stat_loggers=None, disable_log_stats: bool = False) -> "LLMEngine":
        return cls(vllm_config=vllm_config, log_stats=not disable_log_stats,
                   usage_context=usage_context, stat_loggers=stat_loggers,
                   multiprocess_mode=os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") != "0")

    @classmethod
    def from_engine_args(
        cls,
        engine_args,
        usage_context: UsageContext = UsageContext.ENGINE_CONTEXT,
        stat_loggers: list | None = None,
        enable_multiprocessing: bool = False,
    ) -> "LLMEngine":
        vllm_config = engine_args.create_engine_config(usage_context)
        if os.environ.get("VLLM_ENABLE_V1_MULTIPROCESSING", "1") != "0":
            enable_multiprocessing = True
        return cls(
            vllm_config=vllm_config,
            log_stats=not engine_args.disable_log_stats,
            usage_context=usage_context,
            stat_loggers=stat_loggers,
            multiprocess_mode=enable_multiprocessing,
        )

    def get_num_unfinished_requests(self) -> int:
        return self._fake_core.num_unfinished()

    def has_unfinished_requests(self) -> bool:
        return self._fake_core.num_unfinished() > 0

    def get_supported_tasks(self) -> tuple:
        return ("generate",)

    def abort_request(self, request_ids: list[str], internal: bool = False) -> None:
        self._fake_core.abort(request_ids)

    def add_request(
        self,
        request_id: str,
        prompt: Any,
        params: Any,
        arrival_time: float | None = None,
        lora_request: Any = None,
        tokenization_kwargs: dict | None = None,
        trace_headers: Any = None,
        priority: int = 0,
        session_id: str | None = None,
        prompt_text: str | None = None,
        kv_hints: Any = None,
    ) -> str:
        from vllm._fake_engine import validate_and_make_request

        self._fake_core.check_alive()
        req = validate_and_make_request(self, request_id, prompt, params, arrival_time, tokenization_kwargs)
        self._fake_core.add(req)
        return request_id

    def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        return self.engine_core.reset_prefix_cache(reset_running_requests, reset_connector)

    def sleep(self, level: int = 1, mode: str = "abort"):
        self._fake_core.sleeping = True

    def wake_up(self, tags: list[str] | None = None) -> bool:
        self._fake_core.sleeping = False
        return True

    def is_sleeping(self) -> bool:
        return self._fake_core.sleeping

    def get_metrics(self) -> list:
        assert self.log_stats, "Stat logging disabled"
        return []

    @property
    def tokenizer(self):
        return None if self.model_config.skip_tokenizer_init else _FakeTokenizer(self)

    def get_tokenizer(self):
        tok = self.tokenizer
        if tok is None:
            raise ValueError("Tokenizer not available when `skip_tokenizer_init=True`")
        return tok


class _FakeTokenizer:
    """Minimal tokenizer-like object (FAKE): byte ids in, ' tN' text out."""

    def __init__(self, engine: LLMEngine):
        self._vocab = engine.model_config.get_vocab_size()
        eos = engine._fake_model_dir.eos_token_ids
        self.eos_token_id = eos[0] if eos else None
        self.max_token_id = self._vocab - 1

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return F.fake_tokenize(text, self._vocab)

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return F.fake_text(ids)

    def __len__(self) -> int:
        return self._vocab

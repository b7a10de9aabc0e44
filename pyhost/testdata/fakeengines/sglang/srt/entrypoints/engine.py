# FAKE sglang (enginebench test double) -- sglang/srt/entrypoints/engine.py
#
# Engine.__init__(**kwargs) and Engine.generate(...) copy the signatures of
# SGLang 0.5.23 (parameter names, order, defaults, the keyword-only
# `cache_salt`), the constructor's handling of `server_args=` / log_level,
# the event-loop handling (every sync call is loop.run_until_complete), and
# the return shapes: a dict for one prompt, a list of dicts in input order
# for a batch. No subprocess is started; generation is deterministic.
from __future__ import annotations

import asyncio
import atexit
import os
from typing import Any, Callable, Dict, Iterator, List, Optional, Union

import _enginebench_fake as F
from sglang.srt.entrypoints.EngineBase import EngineBase
from sglang.srt.managers.io_struct import FlushCacheReqOutput
from sglang.srt.server_args import ServerArgs
from sglang.version import __version__


class Engine(EngineBase):
    """The entry point to the inference engine (FAKE: no model runs).

    In the real engine a TokenizerManager runs in this process and the
    scheduler/detokenizer in spawned subprocesses; the fake runs nothing.
    """

    server_args_class: ServerArgs = ServerArgs

    def __init__(self, **kwargs):
        """The arguments of this function is the same as `sglang/srt/server_args.py::ServerArgs`."""
        if "server_args" in kwargs:
            server_args = kwargs["server_args"]
        else:
            if "log_level" not in kwargs:
                kwargs["log_level"] = "error"
            server_args = self.server_args_class(**kwargs)
            server_args.__dict__["_launch_command"] = (
                "Engine(" + ", ".join(f"{k}={v!r}" for k, v in kwargs.items()) + ")"
            )
        self.server_args = server_args

        if os.environ.get("SGLANG_RUST_SERVER", "").lower() in ("1", "true"):
            raise ValueError(
                "SGLANG_RUST_SERVER is not supported with the offline Engine "
                "API; it only replaces the HTTP server path (`sglang serve`). "
                "Unset SGLANG_RUST_SERVER to use sgl.Engine."
            )

        self.tokenizer_manager = None
        atexit.register(self.shutdown)

        self._fake_control = F.load_control("sglang")
        from sglang.srt._fake_engine import FakeRuntime

        self._fake = FakeRuntime(server_args, self._fake_control)
        self.tokenizer_manager = _FakeTokenizerManager(self._fake, server_args)
        self.loop = self._ensure_event_loop()

    @staticmethod
    def _ensure_event_loop() -> asyncio.AbstractEventLoop:
        try:
            return asyncio.get_running_loop()
        except RuntimeError:
            pass
        try:
            import warnings

            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return asyncio.get_event_loop_policy().get_event_loop()
        except RuntimeError:
            loop = asyncio.new_event_loop()
            asyncio.set_event_loop(loop)
            return loop

    def get_all_child_pids(self) -> List[int]:
        """Returns a list of all child process PIDs (FAKE: none)."""
        return list(self._fake.child_pids)

    def _resolve_routed_dp_rank(self, routed_dp_rank: Optional[int], data_parallel_rank: Optional[int]) -> Optional[int]:
        if data_parallel_rank is not None:
            import warnings

            warnings.warn(
                "'data_parallel_rank' is deprecated, use 'routed_dp_rank' instead.",
                DeprecationWarning,
                stacklevel=3,
            )
            if routed_dp_rank is None:
                routed_dp_rank = data_parallel_rank
        if routed_dp_rank is not None:
            num_dp_ranks = self.server_args.dp_size
            if num_dp_ranks <= 1 and routed_dp_rank == 0:
                return None
            if routed_dp_rank < 0 or routed_dp_rank >= num_dp_ranks:
                raise ValueError(f"routed_dp_rank={routed_dp_rank} out of range [0, {num_dp_ranks})")
        return routed_dp_rank

    def generate(
        self,
        # The input prompt. It can be a single prompt or a batch of prompts.
        prompt: Optional[Union[List[str], str]] = None,
        sampling_params: Optional[Union[List[Dict], Dict]] = None,
        # The token ids for text; one can either specify text or input_ids.
        input_ids: Optional[Union[List[List[int]], List[int]]] = None,
        image_data: Optional[Any] = None,
        audio_data: Optional[Any] = None,
        video_data: Optional[Any] = None,
        mm_hashes: Optional[Union[List[str], List[List[str]]]] = None,
        mm_content_hashes: Optional[Union[List[Optional[str]], List[List[Optional[str]]]]] = None,
        return_logprob: Optional[Union[List[bool], bool]] = False,
        logprob_start_len: Optional[Union[List[int], int]] = None,
        top_logprobs_num: Optional[Union[List[int], int]] = None,
        token_ids_logprob: Optional[Union[List[List[int]], List[int]]] = None,
        lora_path: Optional[List[Optional[str]]] = None,
        custom_logit_processor: Optional[Union[List[str], str]] = None,
        require_reasoning: bool = False,
        return_hidden_states: Any = False,
        return_routed_experts: bool = False,
        routed_experts_start_len: int = 0,
        stream: bool = False,
        bootstrap_host: Optional[Union[List[str], str]] = None,
        bootstrap_port: Optional[Union[List[int], int]] = None,
        bootstrap_room: Optional[Union[List[int], int]] = None,
        routed_dp_rank: Optional[int] = None,
        disagg_prefill_dp_rank: Optional[int] = None,
        kv_hints: Optional[Dict] = None,
        # Deprecated: use routed_dp_rank instead
        data_parallel_rank: Optional[int] = None,
        external_trace_header: Optional[Dict] = None,
        rid: Optional[Union[List[str], str]] = None,
        session_params: Optional[Dict] = None,
        priority: Optional[int] = None,
        session_id: Optional[str] = None,
        *,
        cache_salt: Optional[Union[List[str], str]] = None,
    ) -> Union[Dict, Iterator[Dict]]:
        """The arguments of this function is the same as `sglang/srt/managers/io_struct.py::GenerateReqInput`."""
        call = F.next_call("sglang")
        routed_dp_rank = self._resolve_routed_dp_rank(routed_dp_rank, data_parallel_rank)
        if any(x is not None for x in (image_data, audio_data, video_data)):
            raise ValueError("fake sglang does not support multimodal inputs")
        coro = self.tokenizer_manager.generate_request(
            call, prompt, input_ids, sampling_params, rid, stream
        )
        if stream:
            result = self.loop.run_until_complete(coro)

            def generator_wrapper():
                # the fake streams the finished outputs as one chunk
                yield result

            return generator_wrapper()
        return self.loop.run_until_complete(coro)

    async def async_generate(
        self,
        prompt: Optional[Union[List[str], str]] = None,
        sampling_params: Optional[Union[List[Dict], Dict]] = None,
        input_ids: Optional[Union[List[List[int]], List[int]]] = None,
        image_data: Optional[Any] = None,
        audio_data: Optional[Any] = None,
        video_data: Optional[Any] = None,
        mm_hashes: Optional[Union[List[str], List[List[str]]]] = None,
        mm_content_hashes: Optional[Union[List[Optional[str]], List[List[Optional[str]]]]] = None,
        return_logprob: Optional[Union[List[bool], bool]] = False,
        logprob_start_len: Optional[Union[List[int], int]] = None,
        top_logprobs_num: Optional[Union[List[int], int]] = None,
        token_ids_logprob: Optional[Union[List[List[int]], List[int]]] = None,
        lora_path: Optional[List[Optional[str]]] = None,
        custom_logit_processor: Optional[Union[List[str], str]] = None,
        require_reasoning: bool = False,
        return_hidden_states: Any = False,
        return_routed_experts: bool = False,
        routed_experts_start_len: int = 0,
        stream: bool = False,
        bootstrap_host: Optional[Union[List[str], str]] = None,
        bootstrap_port: Optional[Union[List[int], int]] = None,
        bootstrap_room: Optional[Union[List[int], int]] = None,
        routed_dp_rank: Optional[int] = None,
        disagg_prefill_dp_rank: Optional[int] = None,
        kv_hints: Optional[Dict] = None,
        data_parallel_rank: Optional[int] = None,
        external_trace_header: Optional[Dict] = None,
        rid: Optional[Union[List[str], str]] = None,
        session_params: Optional[Dict] = None,
        priority: Optional[int] = None,
        session_id: Optional[str] = None,
        *,
        cache_salt: Optional[Union[List[str], str]] = None,
    ) -> Union[Dict, Any]:
        call = F.next_call("sglang")
        routed_dp_rank = self._resolve_routed_dp_rank(routed_dp_rank, data_parallel_rank)
        return await self.tokenizer_manager.generate_request(call, prompt, input_ids, sampling_params, rid, stream)

    def shutdown(self):
        """Shutdown the engine (FAKE: marks it dead; the real one SIGKILLs
        every child process of the calling process, kill_process_tree(os.getpid(),
        include_parent=False))."""
        fake = getattr(self, "_fake", None)
        if fake is not None and fake.alive:
            fake.alive = False
            F.log("sglang", "engine shut down (FAKE)")

    def __enter__(self):
        return self

    def __exit__(self, exc_type, exc_value, traceback):
        self.shutdown()
        return False

    def flush_cache(self):
        return self.loop.run_until_complete(self.tokenizer_manager.flush_cache())

    def get_server_info(self):
        internal_states = self.loop.run_until_complete(self.tokenizer_manager.get_internal_state())
        return {
            **self.server_args.resolved_dict(),
            "launch_command": self.server_args.launch_command,
            **self._fake.scheduler_info(),
            "startup_time": self._fake.startup_time,
            "internal_states": internal_states,
            "version": __version__,
        }

    def get_model_info(self):
        sa = self.server_args
        return {
            "model_path": sa.model_path,
            "served_model_name": sa.served_model_name or sa.model_path,
            "is_generation": True,
            "weight_version": sa.weight_version,
            "load_format": sa.load_format,
            "reasoning_parser": sa.reasoning_parser,
            "tool_call_parser": sa.tool_call_parser,
            "disaggregation_mode": sa.disaggregation_mode,
        }

    def start_profile(self, **kwargs):
        pass

    def stop_profile(self):
        pass

    def release_memory_occupation(self, tags: Optional[List[str]] = None):
        pass

    def resume_memory_occupation(self, tags: Optional[List[str]] = None):
        pass

    def freeze_gc(self):
        pass


class _FakeTokenizerManager:
    """The in-process half of the real engine: normalises, validates, waits."""

    def __init__(self, fake, server_args):
        self._fake = fake
        self.server_args = server_args
        self.tokenizer = fake.tokenizer

    async def generate_request(self, call, prompt, input_ids, sampling_params, rid, stream):
        fake = self._fake
        if not fake.alive:
            raise RuntimeError("fake sglang: generate() after shutdown() (the real engine's subprocesses are gone)")
        is_single, reqs, _ = fake.normalize(prompt, input_ids, sampling_params, rid)
        prepared = fake.prepare(reqs)
        fake.control.record_prompts([ids for _, ids, _, _, sample in prepared if sample == 0])
        if fake.radix is not None and any(r[4] > 0 for r in prepared):
            # n > 1: the real TokenizerManager first sends each prompt with
            # max_new_tokens=0 to cache the common prefix, so every sample
            # then reports cached tokens.
            for _, ids, _, _, sample in prepared:
                if sample == 0:
                    fake.radix.insert(ids)
        outs = fake.run(
            call,
            prepared,
            enable_metrics=bool(self.server_args.enable_metrics),
            weight_version=self.server_args.weight_version,
        )
        await asyncio.sleep(0)
        return outs[0] if is_single else outs

    async def flush_cache(self, timeout_s: Optional[float] = None) -> FlushCacheReqOutput:
        if self._fake.radix is not None:
            self._fake.radix.clear()
        return FlushCacheReqOutput(success=True, message="")

    async def get_internal_state(self) -> List[Dict[Any, Any]]:
        return [self._fake.internal_state()]

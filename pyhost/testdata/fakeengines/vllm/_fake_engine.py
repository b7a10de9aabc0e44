# FAKE vllm (enginebench test double) -- the part with no real counterpart:
# config resolution (what vLLM's EngineArgs.create_engine_config and model
# loading would decide) and the deterministic "engine core".
#
# Behaviours copied from the real vLLM 0.32.0 (checked by running the CPU
# build on a tiny Llama): error types and messages for a missing model,
# an over-long max_model_len and too little KV cache; prompt validation
# (empty / >= max_model_len / out-of-vocabulary only with a tokenizer);
# an out-of-vocabulary id WITHOUT a tokenizer kills the engine core
# (EngineDeadError now and on every later call); a request whose prompt plus
# max_tokens exceeds max_model_len is NOT rejected but silently cut at
# max_model_len (finish_reason "length"); eos from generation_config.json is
# added to stop_token_ids (stop_reason = eos id) unless ignore_eos.
from __future__ import annotations

import math
import os
import time
from typing import Any

import _enginebench_fake as F
from vllm.config import (
    DTYPES,
    CacheConfig,
    LoadConfig,
    ModelConfig,
    ParallelConfig,
    SchedulerConfig,
    VllmConfig,
)
from vllm.exceptions import VLLMValidationError
from vllm.outputs import CompletionOutput, RequestOutput
from vllm.sampling_params import SamplingParams
from vllm.v1.engine.exceptions import EngineDeadError
from vllm.v1.metrics.stats import RequestStateStats

ENGINE = "vllm"
#: Device memory the fake pretends to have (for gpu_memory_utilization).
FAKE_DEVICE_BYTES = 16 * 1024**3


# Same class NAMES as the exceptions the real stack raises (their modules
# differ: huggingface_hub.errors / pydantic_core).
class HFValidationError(ValueError):
    pass


class LocalEntryNotFoundError(FileNotFoundError):
    pass


class ValidationError(ValueError):
    """pydantic_core.ValidationError look-alike (a ValueError)."""


def _model_config_error(msg: str) -> ValidationError:
    return ValidationError(f"1 validation error for ModelConfig\n  Value error, {msg} [type=value_error]")


def _resolve_model_dir(model: str) -> F.ModelDir:
    if os.path.isdir(model):
        if not os.path.isfile(os.path.join(model, "config.json")):
            raise _model_config_error(
                "Invalid repository ID or local directory specified:"
                f" '{model}'.\nPlease verify the following requirements:\n"
                "1. Provide a valid Hugging Face repository ID.\n"
                "2. Specify a local directory that contains a recognized "
                "configuration file.\n"
                "   - For Hugging Face models: ensure the presence of a "
                "'config.json'.\n"
                "   - For Mistral models: ensure the presence of a "
                "'params.json'.\n"
            )
        return F.ModelDir(model)
    if F.looks_like_repo_id(model):
        # The real engine would try the Hub; the fakes never touch a network.
        raise LocalEntryNotFoundError(
            "Cannot find an appropriate cached snapshot folder for the specified revision "
            "on the local disk and outgoing traffic has been disabled. To enable repo "
            "look-ups and downloads online, pass 'local_files_only=False' as input."
        )
    raise HFValidationError(
        "Repo id must be in the form 'repo_name' or 'namespace/repo_name': "
        f"'{model}'. Use `repo_type` argument if needed."
    )


def _resolve_dtype(requested: Any, md: F.ModelDir):
    req = str(requested).replace("torch.", "")
    if req == "auto":
        cfg = md.config_dtype.replace("torch.", "")
        if cfg in ("float16", "half"):
            return DTYPES["float16"]
        # a float32 (or bf16) config resolves to bf16, as on CUDA/CPU
        return DTYPES["bfloat16"]
    aliases = {"half": "float16", "float16": "float16", "bfloat16": "bfloat16", "float": "float32", "float32": "float32"}
    if req not in aliases:
        raise _model_config_error(f"Unknown dtype: {requested!r}")
    return DTYPES[aliases[req]]


def _format_gib(b: float) -> str:
    return f"{b / 1024**3:.2f}"


def create_engine_config(args, usage_context=None) -> VllmConfig:
    """What EngineArgs.create_engine_config(usage_context) resolves, faked."""
    md = _resolve_model_dir(args.model)
    if not args.skip_tokenizer_init:
        tok = args.tokenizer or args.model
        if not (os.path.isdir(tok) and any(os.path.isfile(os.path.join(tok, n)) for n in F.TOKENIZER_FILES)):
            raise OSError(
                f"Can't load tokenizer for '{tok}'. If you were trying to load it from "
                "'https://huggingface.co/models', make sure you don't have a local directory "
                "with the same name. (fake vllm: no tokenizer files in that directory; "
                "pass skip_tokenizer_init=True)"
            )
    dtype = _resolve_dtype(args.dtype, md)

    derived = md.max_position_embeddings
    max_model_len = args.max_model_len
    if max_model_len is None:
        max_model_len = derived
    elif max_model_len > derived and os.environ.get("VLLM_ALLOW_LONG_MAX_MODEL_LEN", "0") not in ("1", "true", "True"):
        raise _model_config_error(
            f"User-specified max_model_len ({max_model_len}) is greater "
            f"than the derived max_model_len (max_position_embeddings="
            f"{float(derived)} or model_max_length=None in model's config.json). "
            "To allow overriding this maximum, set the env var VLLM_ALLOW_LONG_MAX_MODEL_LEN=1. "
            "VLLM_ALLOW_LONG_MAX_MODEL_LEN must be used with extreme caution. If the model "
            "uses relative position encoding (RoPE), positions exceeding derived_max_model_len "
            "lead to nan. If the model uses absolute position encoding, positions exceeding "
            "derived_max_model_len will cause a CUDA array out-of-bounds error."
        )
    max_model_len = int(max_model_len)

    block_size = args.block_size or CacheConfig.DEFAULT_BLOCK_SIZE
    enable_prefix_caching = True if args.enable_prefix_caching is None else bool(args.enable_prefix_caching)
    enable_chunked_prefill = True if args.enable_chunked_prefill is None else bool(args.enable_chunked_prefill)
    # EngineArgs.get_batch_defaults for UsageContext.LLM_CLASS on a GPU below 70 GiB
    max_num_seqs = args.max_num_seqs if args.max_num_seqs is not None else 256
    max_num_batched_tokens = args.max_num_batched_tokens
    if max_num_batched_tokens is None:
        max_num_batched_tokens = 8192 if enable_chunked_prefill else max(8192, max_model_len)
    if not 0 < float(args.gpu_memory_utilization) <= 1:
        raise ValueError(
            f"GPU memory utilization must be within (0, 1]. Got {args.gpu_memory_utilization}."
        )

    return VllmConfig(
        model_config=ModelConfig(
            model=args.model,
            tokenizer=args.tokenizer,
            tokenizer_mode=args.tokenizer_mode,
            skip_tokenizer_init=args.skip_tokenizer_init,
            trust_remote_code=args.trust_remote_code,
            dtype=dtype,
            seed=args.seed,
            max_model_len=max_model_len,
            enforce_eager=args.enforce_eager,
            generation_config=args.generation_config,
            override_generation_config=args.override_generation_config,
            served_model_name=args.served_model_name,
            quantization=args.quantization,
            revision=args.revision,
            hf_config_dict=md.config,
            vocab_size=md.vocab_size,
            generation_config_dict=md.generation_config,
        ),
        cache_config=CacheConfig(
            block_size=block_size,
            gpu_memory_utilization=float(args.gpu_memory_utilization),
            kv_cache_memory_bytes=args.kv_cache_memory_bytes,
            cache_dtype=args.kv_cache_dtype,
            enable_prefix_caching=enable_prefix_caching,
            prefix_caching_hash_algo=args.prefix_caching_hash_algo,
            num_gpu_blocks_override=args.num_gpu_blocks_override,
        ),
        scheduler_config=SchedulerConfig(
            max_num_seqs=max_num_seqs,
            max_num_batched_tokens=max_num_batched_tokens,
            enable_chunked_prefill=enable_chunked_prefill,
            async_scheduling=bool(args.async_scheduling),
            scheduling_policy=args.scheduling_policy,
        ),
        parallel_config=ParallelConfig(
            tensor_parallel_size=args.tensor_parallel_size,
            pipeline_parallel_size=args.pipeline_parallel_size,
            data_parallel_size=args.data_parallel_size,
            distributed_executor_backend=args.distributed_executor_backend,
        ),
        load_config=LoadConfig(load_format=args.load_format, download_dir=args.download_dir),
    )


class _Request:
    __slots__ = ("request_id", "prompt_ids", "prompt_text", "params", "arrival_time", "poisoned")

    def __init__(self, request_id, prompt_ids, prompt_text, params, arrival_time, poisoned):
        self.request_id = request_id
        self.prompt_ids = prompt_ids
        self.prompt_text = prompt_text
        self.params = params
        self.arrival_time = arrival_time
        self.poisoned = poisoned


class FakeEngineCore:
    """Stands in for the EngineCore process: KV sizing at start, then runs."""

    def __init__(self, vllm_config: VllmConfig, control: F.Control, model_dir: F.ModelDir, log_stats: bool):
        self.vllm_config = vllm_config
        self.control = control
        self.model_dir = model_dir
        self.log_stats = log_stats
        self.dead = False
        self.sleeping = False
        self.pending: list[_Request] = []
        mc, cc = vllm_config.model_config, vllm_config.cache_config

        F.log(ENGINE, f"FAKE engine (not vLLM) loading {mc.model} dtype={mc.dtype} max_model_len={mc.max_model_len}")
        control.at_load()

        per_token = model_dir.kv_bytes_per_token(mc.dtype.itemsize)
        if control.kv_cache_tokens is not None:
            kv_tokens = control.kv_cache_tokens
            available = kv_tokens * per_token
        elif cc.kv_cache_memory_bytes is not None:
            available = int(cc.kv_cache_memory_bytes)
            kv_tokens = available // per_token
        else:
            available = int(cc.gpu_memory_utilization * FAKE_DEVICE_BYTES * 0.5)
            kv_tokens = available // per_token
        if cc.num_gpu_blocks_override is not None:
            num_blocks = int(cc.num_gpu_blocks_override)
        else:
            num_blocks = kv_tokens // cc.block_size
        if num_blocks <= 0:
            raise ValueError(
                "No available memory for the cache blocks. "
                "Try increasing `gpu_memory_utilization` when initializing the engine "
                "(this flag also controls CPU memory reservation on the CPU "
                "backend, despite its name). "
                "See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ "
                "for more details."
            )
        if num_blocks * cc.block_size < mc.max_model_len:
            needed = math.ceil(mc.max_model_len / cc.block_size) * cc.block_size * per_token
            est = num_blocks * cc.block_size
            raise ValueError(
                f"To serve at least one request with the model's max seq len "
                f"({mc.max_model_len}), ({_format_gib(needed)} GiB KV "
                f"cache is needed, which is larger than the available KV cache "
                f"memory ({_format_gib(available)} GiB). Based on the available memory, "
                f"the estimated maximum model length is {est}. "
                f"Try increasing `gpu_memory_utilization` (which also controls "
                f"CPU memory on the CPU backend) or decreasing `max_model_len` "
                f"when initializing the engine. "
                f"See https://docs.vllm.ai/en/latest/configuration/conserving_memory/ "
                f"for more details."
            )
        cc.num_gpu_blocks = num_blocks
        self.prefix_cache = F.PrefixCache(cc.block_size) if cc.enable_prefix_caching else None
        F.log(ENGINE, f"GPU KV cache size: {num_blocks * cc.block_size} tokens (FAKE)")

    # -- requests -------------------------------------------------------------
    def check_alive(self) -> None:
        if self.dead:
            raise EngineDeadError()

    def add(self, req: _Request) -> None:
        self.check_alive()
        self.pending.append(req)

    def abort(self, request_ids) -> None:
        ids = set(request_ids)
        self.pending = [r for r in self.pending if r.request_id not in ids]

    def num_unfinished(self) -> int:
        return len(self.pending)

    def reset_prefix_cache(self) -> bool:
        self.check_alive()
        if self.prefix_cache is not None:
            self.prefix_cache.clear()
        return True

    def shutdown(self) -> None:
        if not self.dead:
            F.log(ENGINE, "engine core shut down (FAKE)")
        self.dead = True
        self.pending = []

    # -- the run --------------------------------------------------------------
    def run(self, call: int) -> list[RequestOutput]:
        reqs, self.pending = self.pending, []
        self.check_alive()
        if any(r.poisoned for r in reqs):
            self.dead = True
            F.log(ENGINE, "Worker failed with error 'index out of range in self' "
                          "(FAKE: token id >= vocab_size without a tokenizer kills the engine)")
            raise EngineDeadError()

        self.control.record_prompts([r.prompt_ids for r in reqs])
        vc = self.vllm_config
        mc, cc, sc = vc.model_config, vc.cache_config, vc.scheduler_config
        vocab = mc.get_vocab_size()
        cached_override = self.control.cached_override(call)
        have_tok = not mc.skip_tokenizer_init

        results = []
        for idx, r in enumerate(reqs):
            sp: SamplingParams = r.params
            prompt_len = len(r.prompt_ids)
            max_new = min(sp.max_tokens, mc.max_model_len - prompt_len)
            eos_ids = {sp._eos_token_id} if sp._eos_token_id is not None else set()
            stop_ids = set(sp.stop_token_ids or ())
            min_new = min(sp.min_tokens, max_new)
            model_eos = (self.model_dir.generation_eos_token_ids or self.model_dir.eos_token_ids or [None])[0]
            completions = []
            short = self.control.short_by(call, idx)
            for j in range(sp.n):
                toks, kind, matched = F.generate_tokens(
                    r.prompt_ids,
                    vocab_size=vocab,
                    max_new=max_new,
                    min_new=min_new,
                    stop_ids=stop_ids,
                    eos_ids=eos_ids,
                    ignore_eos=sp.ignore_eos,
                    eos_at=self.control.eos_at,
                    eos_token=model_eos,
                    sample=j,
                )
                finish_reason = "length" if kind == "length" else "stop"
                stop_reason = None
                if kind == "stop" and matched not in eos_ids:
                    stop_reason = matched
                text = ""
                if have_tok and sp.detokenize:
                    text = F.fake_text(toks)
                    if sp.stop:
                        toks, text, hit = _apply_stop_strings(toks, sp)
                        if hit is not None:
                            finish_reason, stop_reason = "stop", hit
                if short:
                    toks = toks[: max(0, len(toks) - short)]
                    if have_tok and sp.detokenize:
                        text = F.fake_text(toks)
                completions.append(
                    CompletionOutput(
                        index=j,
                        text=text,
                        token_ids=toks,
                        cumulative_logprob=None,
                        logprobs=None,
                        finish_reason=finish_reason,
                        stop_reason=stop_reason,
                    )
                )
            if cached_override is not None:
                cached = cached_override
            elif self.prefix_cache is not None:
                cached = self.prefix_cache.lookup(r.prompt_ids)
            else:
                cached = 0
            if self.prefix_cache is not None:
                # later requests of the same call hit earlier ones' full prompt
                # blocks (checked on the real 0.32.0: [0, 64, 64] for 3 copies)
                self.prefix_cache.insert(r.prompt_ids)
            creation = 0
            if cc.enable_prefix_caching:
                creation = max(0, (prompt_len // cc.block_size) * cc.block_size - cached)
            results.append((r, completions, cached, creation))

        total_tokens = sum(len(c.token_ids) for _, comps, _, _ in results for c in comps)
        duration = self.control.call_duration(total_tokens)
        t0 = time.monotonic()
        t0_wall = time.time()
        self.control.before_run(call, duration)
        if duration > 0:
            time.sleep(duration)
        if self.prefix_cache is not None:
            for r, comps, _, _ in results:
                self.prefix_cache.insert(list(r.prompt_ids) + list(comps[0].token_ids))

        waves = max(1, math.ceil(len(results) / max(1, sc.max_num_seqs)))
        outs = []
        for idx, (r, comps, cached, creation) in enumerate(results):
            metrics = None
            if self.log_stats:
                w = idx // max(1, sc.max_num_seqs)
                sched = t0 + duration * w / waves
                last = t0 + duration * (w + 1) / waves
                first = sched + (last - sched) * 0.1
                n_gen = sum(len(c.token_ids) for c in comps)
                metrics = RequestStateStats(
                    num_generation_tokens=n_gen,
                    arrival_time=r.arrival_time,
                    queued_ts=t0,
                    scheduled_ts=sched,
                    first_token_ts=first if n_gen else 0.0,
                    last_token_ts=last if n_gen else 0.0,
                    first_token_latency=(t0_wall - r.arrival_time) + (first - t0) if n_gen else 0.0,
                )
            outs.append(
                RequestOutput(
                    request_id=r.request_id,
                    prompt=r.prompt_text,
                    prompt_token_ids=list(r.prompt_ids),
                    prompt_logprobs=None,
                    outputs=comps,
                    finished=True,
                    metrics=metrics,
                    num_cached_tokens=cached,
                    num_cache_creation_tokens=creation,
                )
            )
        return outs


def _apply_stop_strings(toks, sp: SamplingParams):
    """Cut at the first stop string in the fake text (vLLM semantics)."""
    text = ""
    for k, t in enumerate(toks):
        text += F.fake_text([t])
        for s in sp.stop:
            pos = text.find(s)
            if pos >= 0:
                end = pos + len(s) if sp.include_stop_str_in_output else pos
                return toks[: k + 1], text[:end], s
    return toks, text, None


def validate_and_make_request(engine, request_id: str, prompt: dict, params, arrival_time=None, tokenization_kwargs=None):
    """InputProcessor.process_inputs, faked: what the real one validates."""
    mc = engine.model_config
    if not isinstance(params, SamplingParams):
        raise TypeError(f"Expected SamplingParams, got {type(params).__name__} (fake vllm supports generation only)")
    text = prompt.get("prompt")
    if "prompt_token_ids" in prompt:
        ids = prompt["prompt_token_ids"]
    elif "prompt_embeds" in prompt:
        raise ValueError("fake vllm does not support prompt_embeds")
    else:
        if mc.skip_tokenizer_init:
            raise ValueError("Tokenizer not available when `skip_tokenizer_init=True`")
        ids = F.fake_tokenize(text, mc.get_vocab_size())
    ids = list(ids)
    # _validate_prompt_len
    n = len(ids)
    if n == 0:
        raise VLLMValidationError("The decoder prompt cannot be empty")
    if n > mc.max_model_len:
        raise VLLMValidationError(
            f"The decoder prompt (length {n}) is longer than the maximum model length of "
            f"{mc.max_model_len}. Make sure that `max_model_len` is no smaller than the "
            "number of text tokens."
        )
    if n == mc.max_model_len:
        raise VLLMValidationError(
            f"The decoder prompt (length {n}) plus the number of requested output tokens "
            f"(at least 1) is longer than the maximum model length of {mc.max_model_len}. "
            "Make sure that `max_model_len` is no smaller than the number of text tokens "
            "(prompt + requested output tokens)."
        )
    vocab = mc.get_vocab_size()
    poisoned = False
    if mc.skip_tokenizer_init:
        # no tokenizer -> no check; the model itself fails later
        poisoned = any((not isinstance(t, int)) or t < 0 or t >= vocab for t in ids)
    else:
        lo, hi = min(ids), max(ids)
        if lo < 0:
            raise VLLMValidationError(f"Token id {lo} is out of vocabulary")
        if hi > vocab - 1:
            raise VLLMValidationError(f"Token id {hi} is out of vocabulary")

    sp = params.clone()
    if sp.max_tokens is None:
        sp.max_tokens = mc.max_model_len - n
        if sp.min_tokens > sp.max_tokens:
            raise VLLMValidationError(
                f"min_tokens must be less than or equal to max_tokens={sp.max_tokens}, got {sp.min_tokens}."
            )
    md = engine._fake_model_dir
    gen_fields = dict(md.generation_config) if md.generation_config is not None else (
        {"eos_token_id": md.config["eos_token_id"]} if md.config.get("eos_token_id") is not None else {}
    )
    tok_eos = None if mc.skip_tokenizer_init else (md.eos_token_ids or [None])[0]
    sp.update_from_generation_config(gen_fields, tok_eos)
    return _Request(request_id, ids, text, sp, arrival_time if arrival_time is not None else time.time(), poisoned)

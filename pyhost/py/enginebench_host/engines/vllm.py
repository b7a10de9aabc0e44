"""vLLM through its offline API: LLM(...).generate on token-ID prompts."""

import gc
import inspect

from . import base


def _get(obj, path, default=None):
    for part in path.split("."):
        if obj is None:
            return default
        obj = getattr(obj, part, None)
    return default if obj is None else obj


# Sampling parameters the measurement depends on: never dropped.
_REQUIRED_SAMPLING = ("max_tokens", "ignore_eos", "temperature", "top_p")


class VLLM(base.Adapter):
    name = "vllm"

    def _import_engine(self):
        try:
            import vllm  # noqa: F401
            from vllm import LLM, SamplingParams  # noqa: F401
        except ImportError as exc:
            raise base.ConfigError(f"cannot import vllm here: {exc}; install vllm in this python, or pass --engine vllm=PYTHON") from exc

    def _engine_versions(self):
        import vllm

        return {"vllm": vllm.__version__, "torch": base.module_version("torch"), **_torch_cuda()}

    def _engine_tool_kwargs(self, cfg):
        kw = {
            "model": cfg["model"],
            "dtype": cfg["dtype"],
            "seed": cfg["seed"],
            "max_model_len": cfg["max_model_len"],
            # The concurrency cap must admit the largest batch in one go.
            "max_num_seqs": cfg["max_batch_size"],
            # Fresh prompts never share a prefix; caching would only add work.
            # A shared-prefix workload is there to measure it: on. Programs
            # share prefixes (turns, forks): on, as in SGLang's radix cache.
            "enable_prefix_caching": bool(cfg.get("prefix_caching") or cfg.get("program")),
            # Per-request metrics (RequestOutput.metrics) need stats on.
            "disable_log_stats": False,
        }
        if cfg.get("program"):
            # Programs: text in and out through AsyncLLM, so the tokenizer
            # is on. Constrained gens go through xgrammar, SGLang's default
            # grammar backend, with compact JSON under a schema, as SGLang
            # gets with constrained_json_disable_any_whitespace: the same
            # grammar on both engines. vLLM reads this per engine, not per
            # request, and only for xgrammar or guidance.
            kw["structured_outputs_config"] = {"backend": "xgrammar", "disable_any_whitespace": True}
        else:
            # Token IDs in, token IDs out: no tokenizer work in the timing.
            kw["skip_tokenizer_init"] = True
        return kw

    def _engine_valid_kwargs(self):
        from vllm import LLM
        from vllm.engine.arg_utils import AsyncEngineArgs, EngineArgs

        if (self.cfg or {}).get("program"):
            return base.field_names(AsyncEngineArgs), "vllm.engine.arg_utils.AsyncEngineArgs (programs run on AsyncLLM)"

        params = inspect.signature(LLM.__init__).parameters
        valid = {n for n, p in params.items() if n != "self" and p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}
        # LLM passes its **kwargs on to EngineArgs.
        valid |= base.field_names(EngineArgs)
        return valid, "vllm.LLM's signature or vllm.engine.arg_utils.EngineArgs"

    def _engine_inputs(self, prompts):
        return [{"prompt_token_ids": p} for p in prompts]

    def _engine_construct(self, kwargs):
        from vllm import LLM, SamplingParams

        kw = dict(kwargs)
        model = kw.pop("model")
        llm = LLM(model, **kw)
        s = self.cfg["sampling"]
        n = self.output_len
        # The request vLLM's own throughput benchmark sends: ignore_eos
        # alone fixes the length. min_tokens would add a logits processor
        # that masks the stop tokens at every step, and a per-request seed
        # makes the sampler draw with one torch.Generator per request, a
        # slower path; the engine's seed (constructor) already makes a run
        # repeatable.
        sp = dict(max_tokens=n, ignore_eos=True, temperature=s["temperature"], top_p=s["top_p"])
        # detokenize=False only spares work; an older SamplingParams without
        # it still measures the same thing. The others are checked in the
        # pre-flight (_engine_check) and never dropped.
        self.sampling_dropped = base.missing_params(SamplingParams, ["detokenize"])
        if not self.sampling_dropped:
            sp["detokenize"] = False
        self.sampling = SamplingParams(**sp)
        # Reference output lengths: one SamplingParams per prompt, built
        # here, outside any timing; generate takes a list of them.
        self.sampling_by_index = None
        if self.output_lens is not None:
            self.sampling_by_index = [SamplingParams(**dict(sp, max_tokens=int(k))) for k in self.output_lens]
        return llm

    def _engine_check(self, kwargs):
        from vllm import SamplingParams

        base.require_params("vllm", SamplingParams, "SamplingParams", _REQUIRED_SAMPLING)

    def _engine_check_features(self, kwargs, features):
        if "constrained" in (features or []):
            try:
                from vllm.sampling_params import StructuredOutputsParams  # noqa: F401
            except ImportError as exc:
                raise base.ConfigError(
                    "the program constrains a gen (regex or JSON schema), and this vLLM has no structured outputs "
                    "(vllm.sampling_params.StructuredOutputsParams): use vLLM >= 0.11, or a program without constrained gens"
                ) from exc
            so = kwargs.get("structured_outputs_config") or {}
            backend = so.get("backend", "auto") if isinstance(so, dict) else getattr(so, "backend", "auto")
            wanted = {"xgrammar": ["xgrammar"], "guidance": ["llguidance"], "outlines": ["outlines_core"], "lm-format-enforcer": ["lmformatenforcer"]}
            import importlib.util

            names = wanted.get(str(backend), ["xgrammar", "llguidance", "outlines_core"])
            if not any(importlib.util.find_spec(n) for n in names):
                raise base.ConfigError(
                    f"the program constrains a gen (regex or JSON schema), and vLLM's structured-outputs backend {backend!r} "
                    f"needs {' or '.join(names)}, which this python lacks: install it, or choose another backend with "
                    "--engine-arg 'vllm: structured_outputs_config={\"backend\": ...}'"
                )

    def _engine_construct_frontend(self, kwargs):
        from transformers import AutoTokenizer
        from vllm.engine.arg_utils import AsyncEngineArgs
        from vllm.v1.engine.async_llm import AsyncLLM

        from .. import frontend

        kw = dict(kwargs)
        so = kw.get("structured_outputs_config")
        if isinstance(so, dict):
            from vllm.config import StructuredOutputsConfig

            kw["structured_outputs_config"] = StructuredOutputsConfig(**so)
        engine = AsyncLLM.from_engine_args(AsyncEngineArgs(**kw))
        self.sampling_dropped = []
        tokenizer = AutoTokenizer.from_pretrained(kwargs["model"])
        return engine, frontend.make_vllm_backend(engine, kwargs["model"], tokenizer)

    def _engine_generate(self, batch, first):
        sampling = self.sampling
        if self.sampling_by_index is not None:
            sampling = self.sampling_by_index[first:first + len(batch)]
        return self.engine.generate(batch, sampling, use_tqdm=False)

    def _engine_collect(self, first, count, outputs):
        out = []
        for ro in outputs:
            comp = ro.outputs[0] if ro.outputs else None
            req = {
                # vLLM numbers requests itself; it echoes the prompt's IDs.
                "index": self.index_of_prompt(ro.prompt_token_ids),
                "prompt_tokens": len(ro.prompt_token_ids or []),
                "output_tokens": len(comp.token_ids) if comp is not None else 0,
                "output_ids": list(comp.token_ids) if comp is not None else [],
                "cached_tokens": getattr(ro, "num_cached_tokens", None),
                "finish_reason": str(getattr(comp, "finish_reason", "") or ""),
            }
            timings = _timings(getattr(ro, "metrics", None))
            if timings:
                req["timings"] = timings
                ttft = timings.get("ttft_s")
                e2e = ttft + timings["decode_s"] if ttft is not None and "decode_s" in timings else None
                if ttft is not None or e2e is not None:
                    req["latency"] = base.latency(ttft, e2e, req["output_tokens"])
            out.append(req)
        return out

    def _engine_effective_config(self):
        return effective_config(self.engine)

    def _engine_kv_cache_tokens(self):
        cc = _get(_vllm_config(self.engine), "cache_config")
        blocks, size = getattr(cc, "num_gpu_blocks", None), getattr(cc, "block_size", None)
        if blocks is None or size is None:
            return None
        return int(blocks) * int(size)

    def _engine_cache_block_tokens(self):
        return getattr(_get(_vllm_config(self.engine), "cache_config"), "block_size", None)

    def _engine_tensor_parallel(self):
        return getattr(_get(_vllm_config(self.engine), "parallel_config"), "tensor_parallel_size", None)

    def _engine_reservation(self, kwargs):
        cc = _get(_vllm_config(self.engine), "cache_config")
        res = {}
        for n in ("gpu_memory_utilization", "kv_cache_memory_bytes"):
            v = getattr(cc, n, None)
            if v is not None:
                res[n] = v
        return res

    def _engine_notes(self):
        notes = []
        if self.sampling_dropped:
            notes.append("this vLLM's SamplingParams lacks " + ", ".join(self.sampling_dropped))
        note = _multi_step_prefill_note(_get(_vllm_config(self.engine), "scheduler_config"),
                                        self.cfg.get("max_batch_size"), self.cfg.get("input_len"))
        if note:
            notes.append(note)
        return notes

    def _engine_close(self, llm):
        if self.program is not None and hasattr(llm, "shutdown"):
            llm.shutdown()  # AsyncLLM
            del llm
            gc.collect()
            return
        # The engine core runs in a child process (EngineCore); shutting it
        # down returns its memory. LLM has no public close().
        core = _get(llm, "llm_engine.engine_core")
        if core is not None and hasattr(core, "shutdown"):
            core.shutdown()
        del llm
        gc.collect()


def _vllm_config(engine):
    """The VllmConfig of an LLM (llm_engine.vllm_config) or of an AsyncLLM
    (vllm_config)."""
    return _get(engine, "llm_engine.vllm_config") or getattr(engine, "vllm_config", None)


def _multi_step_prefill_note(sc, max_batch, input_len):
    """Says which batches vLLM prefills over several steps: a step takes at
    most max_num_batched_tokens prompt tokens, chunked prefill or not (without
    it, whole prompts up to that budget), so a batch whose prompts hold more
    has its requests' first tokens a step or more apart (and a call of many
    such batches overlaps them). Their figures are then not those of one
    prefill step per batch."""
    budget = getattr(sc, "max_num_batched_tokens", None)
    if not (budget and max_batch and input_len) or max_batch * input_len <= budget:
        return None
    fits = int(budget) // int(input_len)
    return (f"prefill over several steps: batches of more than {fits} prompt{'s' if fits != 1 else ''} of {input_len} tokens "
            f"exceed max_num_batched_tokens={budget}; "
            f"--engine-arg 'vllm: max_num_batched_tokens={int(max_batch) * int(input_len)}' prefills the largest batch in one")


def _timings(m):
    """Per-request timings from vLLM's RequestStateStats, in seconds. The
    *_ts fields are engine-core monotonic clocks: only differences mean
    anything."""
    if m is None:
        return {}
    t = {}
    ttft = getattr(m, "first_token_latency", None)
    if ttft:
        t["ttft_s"] = float(ttft)
    q, s, f, last = (getattr(m, n, None) for n in ("queued_ts", "scheduled_ts", "first_token_ts", "last_token_ts"))
    if q and s:
        t["queue_s"] = float(s - q)
    if s and f:
        t["prefill_s"] = float(f - s)
    if f and last:
        t["decode_s"] = float(last - f)
    return t


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return {}
    return {"torch_cuda": torch.version.cuda}


# The vllm_config fields recorded as the effective configuration, by
# section: what differs between engines and releases and changes a figure.
EFFECTIVE_CONFIG = {
    "model_config": ["model", "dtype", "max_model_len", "seed", "enforce_eager", "quantization", "generation_config", "skip_tokenizer_init"],
    "scheduler_config": ["max_num_seqs", "max_num_batched_tokens", "enable_chunked_prefill", "chunked_prefill_enabled", "async_scheduling", "policy"],
    "cache_config": ["block_size", "gpu_memory_utilization", "kv_cache_memory_bytes", "enable_prefix_caching", "num_gpu_blocks", "cache_dtype"],
    "parallel_config": ["tensor_parallel_size", "pipeline_parallel_size", "data_parallel_size", "distributed_executor_backend"],
    "compilation_config": ["mode", "level", "cudagraph_mode", "max_cudagraph_capture_size", "cudagraph_capture_sizes"],
    "device_config": ["device", "device_type"],
}


def effective_config(llm):
    """The EFFECTIVE_CONFIG fields of an LLM's vllm_config, as "section.name"
    keys; the agreement lab's anchor records the same for its own engine."""
    vc = _vllm_config(llm)
    eff = {}
    for section, names in EFFECTIVE_CONFIG.items():
        obj = getattr(vc, section, None) if vc is not None else None
        if obj is None:
            continue
        for n in names:
            if hasattr(obj, n):
                eff[f"{section}.{n}"] = getattr(obj, n)
    return eff


base.expose(globals(), VLLM())

"""SGLang through its offline API: sglang.Engine(...).generate(input_ids=...).

One generate call takes the whole batch, as SGLang's own
bench_offline_throughput does.

On a machine without CUDA the adapter runs SGLang's plain-PyTorch path:
device="cpu", attention_backend="torch_native" (every layer's forward_native),
no CUDA graphs, and a KV pool sized from what the sweep needs. The
environment variable SGLANG_USE_CPU_ENGINE stays unset: it selects SGLang's
official CPU path, whose operators live in sgl_kernel CPU builds that no PyPI
package holds (the import fails), while the plain path needs none.
"""

import os

from . import base

# SGLang refuses a prompt of max_req_input_len = min(context_len - 1,
# kv_tokens - 1) - 5 tokens or more, and clamps max_new_tokens to
# max_req_len - prompt - 1 (srt/managers/tp_worker.py, managers/utils.py).
# Hence: input <= context - 7 and input + output <= context - 2.
_INPUT_MARGIN = 7
_TOTAL_MARGIN = 2
# The tool's context length: input + output + this margin covers both rules.
_CONTEXT_MARGIN = 8


class SGLang(base.Adapter):
    name = "sglang"

    def _import_engine(self):
        try:
            import sglang  # noqa: F401
            from sglang.srt.server_args import ServerArgs  # noqa: F401
        except ImportError as exc:
            raise base.ConfigError(
                f"cannot import sglang here: {exc}; install sglang in this python "
                "(for the CPU tier: scripts/setup-venv.sh .venv/sglang-cpu requirements-sglang-cpu.txt), "
                "or pass --engine sglang=PYTHON with a python that has it"
            ) from exc

    def _engine_versions(self):
        import sglang

        return {"sglang": getattr(sglang, "__version__", None), "torch": base.module_version("torch"), **_torch_cuda()}

    def _fields(self):
        from sglang.srt.server_args import ServerArgs

        return base.field_names(ServerArgs)

    def _on_cpu(self, cfg):
        """True when SGLang will run on the CPU: the user said device="cpu",
        or said no device and torch sees no CUDA device."""
        device = (cfg.get("user_args") or {}).get("device")
        if device is not None:
            return str(device) == "cpu"
        try:
            import torch
        except ImportError:
            return False
        return not torch.cuda.is_available()

    def _engine_tool_kwargs(self, cfg):
        program = bool(cfg.get("program"))
        fields = self._fields()
        kw = {
            "model_path": cfg["model"],
            "dtype": cfg["dtype"],
            "random_seed": cfg["seed"],
            # The concurrency cap must admit the largest batch in one go.
            "max_running_requests": cfg["max_batch_size"],
            "log_level": "error",
        }
        if program:
            # Programs: text in and out (the tokenizer on), the radix cache
            # on (programs share prefixes: turns, forks), SGLang's own
            # context length (the model's: max_model_len is that here), and
            # compact JSON under a schema, as the vLLM adapter sets, so both
            # engines decode the same grammar.
            context = int(cfg["max_model_len"])
            if "constrained_json_disable_any_whitespace" in fields:
                kw["constrained_json_disable_any_whitespace"] = True
        else:
            # SGLang refuses a prompt within a few tokens of its context
            # length and clamps max_new_tokens to fit: give it a margin so the
            # fixed output length is never cut.
            context = cfg["max_model_len"] + _CONTEXT_MARGIN
            kw["context_length"] = context
            # Fresh prompts never share a prefix; the radix cache would match
            # single leading tokens across them. A shared-prefix workload is
            # there to measure it: on.
            kw["disable_radix_cache"] = not cfg.get("prefix_caching")
            # Token IDs in, token IDs out: no tokenizer work in the timing.
            kw["skip_tokenizer_init"] = True
        if "enable_metrics" in fields:
            # Per-request time to first token in meta_info, as vLLM's request
            # metrics give it (the tool sets disable_log_stats=False there).
            kw["enable_metrics"] = True
        if self._on_cpu(cfg):
            kw["device"] = "cpu"
            kw["attention_backend"] = "torch_native"
            kw["disable_cuda_graph"] = True
            # On CPU, mem_fraction_static is a fraction of free RAM (0.85
            # would take ~17 GiB of a 24 GiB machine): size the KV pool from
            # what the sweep needs instead, the largest batch at full context.
            kw["max_total_tokens"] = max(cfg["max_batch_size"], 1) * context
            return kw
        # Decode batches above the largest captured CUDA graph run eagerly (a
        # performance cliff); capture up to the sweep's largest batch, as
        # SGLang's bench_one_batch does. The name moved between releases.
        for name in ("cuda_graph_max_bs", "cuda_graph_max_bs_decode"):
            if name in fields:
                kw[name] = max(cfg["max_batch_size"], 1)
                break
        return kw

    def _engine_check_features(self, kwargs, features):
        if "constrained" not in (features or []):
            return
        backend = str(kwargs.get("grammar_backend") or "xgrammar")
        modules = {"xgrammar": "xgrammar", "outlines": "outlines_core", "llguidance": "llguidance"}
        if backend == "none":
            raise base.ConfigError(
                "the program constrains a gen (regex or JSON schema), and SGLang runs with grammar_backend='none', "
                "which ignores the constraint: drop --engine-arg 'sglang: grammar_backend=...', or set xgrammar, outlines or llguidance"
            )
        import importlib.util

        mod = modules.get(backend)
        if mod and importlib.util.find_spec(mod) is None:
            raise base.ConfigError(
                f"the program constrains a gen (regex or JSON schema), and SGLang's grammar_backend={backend!r} needs {mod}, "
                "which this python lacks: install it, or choose another grammar_backend"
            )

    def _engine_construct_frontend(self, kwargs):
        import sglang

        from .. import frontend

        engine = sglang.Engine(**kwargs)
        self.kwargs = kwargs
        self.sampling = {}
        return engine, frontend.make_sglang_backend(engine, kwargs["model_path"])

    def _engine_valid_kwargs(self):
        return self._fields(), "sglang.srt.server_args.ServerArgs"

    def _engine_check(self, kwargs):
        cfg = self.cfg
        if cfg.get("program"):
            return  # the program's gens set their own lengths
        from sglang.srt.sampling.sampling_params import SamplingParams

        required = ["max_new_tokens", "ignore_eos", "temperature", "top_p"]
        if not kwargs.get("skip_tokenizer_init"):
            required.append("min_new_tokens")
        base.require_params("sglang", SamplingParams, "sglang.srt.sampling.sampling_params.SamplingParams", required)
        if os.environ.get("SGLANG_USE_CPU_ENGINE", "").lower() in ("1", "true", "yes"):
            try:
                import sgl_kernel  # noqa: F401
            except Exception as exc:  # noqa: BLE001 - any import failure means the same
                raise base.ConfigError(
                    f"SGLANG_USE_CPU_ENGINE is set, but SGLang's CPU engine needs sgl_kernel's CPU operators ({exc}); "
                    "no PyPI package has them: drop --engine-env 'sglang: SGLANG_USE_CPU_ENGINE=...' "
                    "(enginebench runs SGLang's plain-PyTorch path on CPU), or build sgl-kernel's CPU operators from SGLang's source"
                ) from exc
        input_len, output_len = int(cfg["input_len"]), int(cfg["output_len"])
        # The longest request's prompt plus output: where lengths vary
        # (ShareGPT), less than the longest prompt plus the longest output.
        total = int(cfg.get("max_model_len") or input_len + output_len)
        context = kwargs.get("context_length")
        if context is not None:
            context = int(context)
            if input_len > context - _INPUT_MARGIN or total > context - _TOTAL_MARGIN:
                raise base.ConfigError(
                    f"SGLang at context_length={context} refuses prompts of {context - _INPUT_MARGIN + 1}+ tokens and cuts outputs "
                    f"past {context - _TOTAL_MARGIN} tokens in all, and this sweep has prompts of {input_len} and {total} tokens in all: "
                    f"raise --engine-arg 'sglang: context_length=...' to at least {total + _CONTEXT_MARGIN}, "
                    "or drop it (the tool then sets input + output + 8)"
                )
            derived = _model_context_length(kwargs.get("model_path"))
            allow = os.environ.get("SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN", "").lower() in ("1", "true", "yes")
            if derived is not None and context > derived and not allow:
                raise base.ConfigError(
                    f"SGLang needs context_length={context} for {input_len}-token prompts and {output_len} output tokens "
                    f"(input + output + {_CONTEXT_MARGIN}: it refuses prompts within a few tokens of it), "
                    f"above the model's own context length {derived}, which SGLang refuses: "
                    f"shorten --input-len or --output-len by {context - derived}, "
                    "or allow it with --engine-env 'sglang: SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1'"
                )
        pool = kwargs.get("max_total_tokens")
        if pool is not None and int(pool) < total + _TOTAL_MARGIN:
            raise base.ConfigError(
                f"SGLang's KV pool max_total_tokens={pool} cannot hold one request of {total} tokens "
                "(SGLang refuses such a request, or fails to start with a pool too small): "
                f"raise it to at least {int(cfg['max_batch_size']) * (total + _CONTEXT_MARGIN)} "
                "to run the largest batch at once, or drop it"
            )

    def _engine_construct(self, kwargs):
        import sglang

        engine = sglang.Engine(**kwargs)
        s = self.cfg["sampling"]
        n = self.output_len
        self.sampling = {"max_new_tokens": n, "ignore_eos": True, "temperature": s["temperature"], "top_p": s["top_p"]}
        # With skip_tokenizer_init SGLang refuses min_new_tokens (it needs the
        # tokenizer's EOS ids); ignore_eos alone then carries the fixed length.
        if not kwargs.get("skip_tokenizer_init"):
            self.sampling["min_new_tokens"] = n
        # Reference output lengths: one sampling dict per prompt, built here,
        # outside any timing; generate takes a list of them.
        self.sampling_by_index = None
        if self.output_lens is not None:
            self.sampling_by_index = []
            for k in self.output_lens:
                sp = dict(self.sampling, max_new_tokens=int(k))
                if "min_new_tokens" in sp:
                    sp["min_new_tokens"] = int(k)
                self.sampling_by_index.append(sp)
        self.kwargs = kwargs
        return engine

    def _engine_generate(self, batch, first):
        # Request ids of ours, so each answer names its prompt (meta_info id).
        rid = [f"eb{self.calls}-{first + i}" for i in range(len(batch))]
        sampling = self.sampling
        if self.sampling_by_index is not None:
            sampling = self.sampling_by_index[first:first + len(batch)]
        return self.engine.generate(input_ids=batch, sampling_params=sampling, rid=rid)

    def _engine_collect(self, first, count, outputs):
        if isinstance(outputs, dict):  # a batch of one may come back bare
            outputs = [outputs]
        out = []
        for o in outputs:
            meta = o.get("meta_info", {}) or {}
            fr = meta.get("finish_reason")
            if isinstance(fr, dict):
                fr = fr.get("type")
            ids = list(o.get("output_ids") or [])
            req = {
                "index": _index_of_rid(meta.get("id")),
                "prompt_tokens": int(meta.get("prompt_tokens", 0)),
                "output_tokens": len(ids),
                "output_ids": ids,
                "cached_tokens": meta.get("cached_tokens"),
                "finish_reason": str(fr or ""),
            }
            timings = {k: float(meta[k]) for k in ("e2e_latency", "inference_time", "first_token_latency") if isinstance(meta.get(k), (int, float))}
            if timings:
                req["timings"] = timings
                # first_token_latency only with enable_metrics=True.
                req["latency"] = base.latency(timings.get("first_token_latency"), timings.get("e2e_latency"), len(ids))
            out.append(req)
        return out

    def _server_info(self):
        try:
            return self.engine.get_server_info() or {}
        except Exception:  # noqa: BLE001 - informational only
            return {}

    def _engine_effective_config(self):
        info = self._server_info()
        keys = (
            "model_path", "dtype", "context_length", "max_running_requests", "max_total_tokens", "mem_fraction_static",
            "chunked_prefill_size", "max_prefill_tokens", "disable_radix_cache", "disable_overlap_schedule",
            "cuda_graph_max_bs", "cuda_graph_max_bs_decode", "disable_cuda_graph", "attention_backend", "sampling_backend",
            "device", "tp_size", "random_seed", "schedule_policy", "kv_cache_dtype", "version",
        )
        eff = {k: info[k] for k in keys if k in info}
        if "max_total_num_tokens" in info:
            eff["max_total_num_tokens"] = info["max_total_num_tokens"]
        # The concurrency cap in force is reported per data-parallel rank.
        for st in info.get("internal_states") or []:
            if isinstance(st, dict):
                for k in ("effective_max_running_requests_per_dp", "max_total_num_tokens"):
                    if k in st:
                        eff["internal_states." + k] = st[k]
                break
        return eff

    def _engine_kv_cache_tokens(self):
        info = self._server_info()
        v = info.get("max_total_num_tokens")
        if v is None:
            for st in info.get("internal_states") or []:
                if isinstance(st, dict) and "max_total_num_tokens" in st:
                    v = st["max_total_num_tokens"]
                    break
        return int(v) if v is not None else None

    def _engine_cache_block_tokens(self):
        return self._server_info().get("page_size", (self.kwargs or {}).get("page_size")) or 1

    def _engine_tensor_parallel(self):
        return self._server_info().get("tp_size", (self.kwargs or {}).get("tp_size"))

    def _engine_reservation(self, kwargs):
        info = self._server_info()
        if str(info.get("device", kwargs.get("device"))) == "cpu":
            # On CPU the pool is what max_total_tokens says; SGLang still
            # reports a mem_fraction_static, a share of free RAM it does not
            # take once the pool is capped.
            v = info.get("max_total_tokens", kwargs.get("max_total_tokens"))
            return {"max_total_tokens": v} if v is not None else {}
        res = {}
        for n in ("mem_fraction_static", "max_total_tokens"):
            v = info.get(n, kwargs.get(n))
            if v is not None:
                res[n] = v
        return res

    def _engine_notes(self):
        notes = []
        if "min_new_tokens" not in self.sampling and self.program is None:
            notes.append("min_new_tokens not set: SGLang refuses it without a tokenizer; ignore_eos fixes the length")
        if str(self.kwargs.get("device")) == "cpu":
            notes.append(
                f"on CPU: SGLang's plain-PyTorch path (attention_backend={self.kwargs.get('attention_backend')}), "
                f"KV pool max_total_tokens={self.kwargs.get('max_total_tokens')}; its speed says nothing about GPU speed"
            )
        return notes

    def _engine_close(self, engine):
        # shutdown() kills every child process of this worker: the scheduler
        # and detokenizer, which hold the GPU memory.
        engine.shutdown()


def _model_context_length(model_path):
    """The model's context length as SGLang derives it, or None when it
    cannot be read here (SGLang then checks at load)."""
    if not model_path or not os.path.isfile(os.path.join(str(model_path), "config.json")):
        return None
    try:
        from sglang.srt.utils.hf_transformers.common import get_context_length
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(str(model_path))
        text = config.get_text_config() if hasattr(config, "get_text_config") else config
        return int(get_context_length(text))
    except Exception:  # noqa: BLE001 - informational: SGLang checks at load
        return None


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return {}
    return {"torch_cuda": torch.version.cuda}


base.expose(globals(), SGLang())


def _index_of_rid(rid):
    """The workload index in a request id of ours ("eb<call>-<index>"), or -1."""
    head, sep, tail = str(rid or "").rpartition("-")
    if not sep or not head.startswith("eb") or not tail.isdigit():
        return -1
    return int(tail)

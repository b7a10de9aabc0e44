"""SGLang through its offline API: sglang.Engine(...).generate(input_ids=...).

The in-process Engine is SGLang's faithful offline path: its frontend
run_batch needs an HTTP endpoint. One generate call takes the whole batch,
as SGLang's own bench_offline_throughput does.
"""

from . import base


class SGLang(base.Adapter):
    name = "sglang"

    def _import_engine(self):
        try:
            import sglang  # noqa: F401
            from sglang.srt.server_args import ServerArgs  # noqa: F401
        except ImportError as exc:
            raise base.ConfigError(f"cannot import sglang here: {exc}; install sglang in this python, or pass --engine sglang=PYTHON") from exc

    def _engine_versions(self):
        import sglang

        return {"sglang": getattr(sglang, "__version__", None), "torch": base.module_version("torch"), **_torch_cuda()}

    def _fields(self):
        from sglang.srt.server_args import ServerArgs

        return base.field_names(ServerArgs)

    def _engine_tool_kwargs(self, cfg):
        kw = {
            "model_path": cfg["model"],
            "dtype": cfg["dtype"],
            "random_seed": cfg["seed"],
            # SGLang refuses a prompt within a few tokens of its context
            # length (it keeps room for special tokens) and clamps
            # max_new_tokens to fit: give it a margin so the fixed output
            # length is never cut.
            "context_length": cfg["max_model_len"] + 8,
            # The concurrency cap must admit the largest batch in one go.
            "max_running_requests": cfg["max_batch_size"],
            # Fresh prompts never share a prefix; the radix cache would match
            # single leading tokens across them.
            "disable_radix_cache": True,
            # Token IDs in, token IDs out: no tokenizer work in the timing.
            "skip_tokenizer_init": True,
            "log_level": "error",
        }
        # Decode batches above the largest captured CUDA graph run eagerly (a
        # performance cliff); capture up to the sweep's largest batch, as
        # SGLang's bench_one_batch does. The name moved between releases.
        fields = self._fields()
        for name in ("cuda_graph_max_bs", "cuda_graph_max_bs_decode"):
            if name in fields:
                kw[name] = max(cfg["max_batch_size"], 1)
                break
        return kw

    def _engine_valid_kwargs(self):
        return self._fields(), "sglang.srt.server_args.ServerArgs"

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
        return engine

    def _engine_generate(self, batch):
        return self.engine.generate(input_ids=batch, sampling_params=self.sampling)

    def _engine_collect(self, first, count, outputs):
        if isinstance(outputs, dict):  # a batch of one may come back bare
            outputs = [outputs]
        out = []
        for i, o in enumerate(outputs):
            meta = o.get("meta_info", {}) or {}
            fr = meta.get("finish_reason")
            if isinstance(fr, dict):
                fr = fr.get("type")
            req = {
                "index": first + i,
                "prompt_tokens": int(meta.get("prompt_tokens", 0)),
                "output_tokens": len(o.get("output_ids") or []),
                "cached_tokens": meta.get("cached_tokens"),
                "finish_reason": str(fr or ""),
            }
            timings = {k: float(meta[k]) for k in ("e2e_latency", "inference_time") if isinstance(meta.get(k), (int, float))}
            if timings:
                req["timings"] = timings
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
            "cuda_graph_max_bs", "disable_cuda_graph", "attention_backend", "sampling_backend", "device", "tp_size",
            "random_seed", "schedule_policy", "version",
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

    def _engine_reservation(self, kwargs):
        info = self._server_info()
        res = {}
        for n in ("mem_fraction_static", "max_total_tokens"):
            v = info.get(n, kwargs.get(n))
            if v is not None:
                res[n] = v
        return res

    def _engine_notes(self):
        notes = []
        if "min_new_tokens" not in self.sampling:
            notes.append("min_new_tokens not set: SGLang refuses it without a tokenizer; ignore_eos fixes the length")
        return notes

    def _engine_close(self, engine):
        # shutdown() kills every child process of this worker: the scheduler
        # and detokenizer, which hold the GPU memory.
        engine.shutdown()


def _torch_cuda():
    try:
        import torch
    except ImportError:
        return {}
    return {"torch_cuda": torch.version.cuda}


base.expose(globals(), SGLang())

"""The Hugging Face transformers reference baseline: model.generate on
equal-length batches, as vLLM's own benchmarks use for their HF baseline."""

import gc

from . import base


class Transformers(base.Adapter):
    name = "transformers"

    def _import_engine(self):
        try:
            import torch  # noqa: F401
            import transformers  # noqa: F401
        except ImportError as exc:
            raise base.ConfigError(f"cannot import transformers and torch here: {exc}; install them in this python, or pass --engine transformers=PYTHON") from exc

    def _engine_versions(self):
        import torch
        import transformers

        return {"transformers": transformers.__version__, "torch": torch.__version__, "torch_cuda": torch.version.cuda}

    def _engine_tool_kwargs(self, cfg):
        return {
            "pretrained_model_name_or_path": cfg["model"],
            "dtype": cfg["dtype"],
            "device": "cuda" if _cuda() else "cpu",
        }

    def _engine_valid_kwargs(self):
        # from_pretrained forwards unknown keys to the model config, so its
        # signature cannot reject typos; accept the documented loader keys
        # and the tool's own.
        return {
            "pretrained_model_name_or_path", "dtype", "device", "attn_implementation", "low_cpu_mem_usage",
            "trust_remote_code", "revision", "use_safetensors", "local_files_only", "torch_compile", "num_threads",
        }, "the transformers engine's loader arguments"

    def _engine_construct(self, kwargs):
        import torch
        from transformers import AutoModelForCausalLM

        kw = dict(kwargs)
        path = kw.pop("pretrained_model_name_or_path")
        device = kw.pop("device")
        compile_model = kw.pop("torch_compile", False)
        threads = kw.pop("num_threads", None)
        if threads:
            torch.set_num_threads(int(threads))
        kw["dtype"] = _torch_dtype(kw["dtype"])
        kw.setdefault("local_files_only", True)
        model = AutoModelForCausalLM.from_pretrained(path, **kw).to(device).eval()
        if compile_model:
            model = torch.compile(model)
        self.device = device
        return model

    def _engine_inputs(self, prompts):
        return prompts

    def _engine_generate(self, batch, first):
        import torch

        s = self.cfg["sampling"]
        lens = [len(p) for p in batch]
        width = max(lens)
        # Each request's own output length; a static batch generates the
        # longest of them for every row (collect counts each to its own).
        wants = [self.output_len_of(first + i) for i in range(len(batch))]
        n = max(wants)
        if min(lens) == width:
            ids = torch.tensor(batch, dtype=torch.long, device=self.device)
            mask = torch.ones_like(ids)
        else:
            # Prompts of different lengths (ShareGPT): left-padded, masked.
            pad = self._pad_id()
            ids = torch.tensor([[pad] * (width - k) + list(p) for p, k in zip(batch, lens)], dtype=torch.long, device=self.device)
            mask = torch.tensor([[0] * (width - k) + [1] * k for k in lens], dtype=torch.long, device=self.device)
        do_sample = s["temperature"] > 0
        kw = dict(max_new_tokens=n, min_new_tokens=n, do_sample=do_sample, pad_token_id=self._pad_id())
        if do_sample:
            kw.update(temperature=s["temperature"], top_p=s["top_p"])
            torch.manual_seed(s["seed"])
        else:
            # Greedy: say so, rather than inherit sampling settings from the
            # model's generation_config.
            kw.update(temperature=None, top_p=None, top_k=None)
        with torch.inference_mode():
            out = self.engine.generate(input_ids=ids, attention_mask=mask, **kw)
        if self.device == "cuda":
            torch.cuda.synchronize()
        return (width, out, lens, wants)

    def _pad_id(self):
        gc_ = getattr(self.engine, "generation_config", None)
        for v in (getattr(gc_, "pad_token_id", None), getattr(gc_, "eos_token_id", None)):
            if isinstance(v, list):
                v = v[0] if v else None
            if v is not None:
                return v
        return 0

    def _engine_collect(self, first, count, outputs):
        width, out, lens, wants = outputs
        eos = getattr(self.engine.generation_config, "eos_token_id", None)
        eos = set(eos if isinstance(eos, list) else ([eos] if eos is not None else []))
        rows = out[:, width:].tolist()
        res = []
        for i, gen in enumerate(rows):
            # Each request to its own output length (they differ only with
            # reference output lengths).
            gen = gen[:wants[i]]
            # generate() pads a finished sequence to the batch's length; count
            # up to and including the first EOS, as the model returned it.
            n = len(gen)
            for j, tok in enumerate(gen):
                if tok in eos:
                    n = j + 1
                    break
            res.append({
                # Row i of generate's output tensor continues row i of its
                # input: the position is the prompt here, by construction.
                "index": first + i,
                "prompt_tokens": int(lens[i]),
                "output_tokens": n,
                "output_ids": gen[:n],
                "cached_tokens": None,
                "finish_reason": "length" if n == len(gen) else "stop",
            })
        return res

    def _engine_effective_config(self):
        import torch

        cfg = self.engine.config
        return {
            "dtype": str(next(self.engine.parameters()).dtype).replace("torch.", ""),
            "device": self.device,
            "attn_implementation": getattr(cfg, "_attn_implementation", None),
            "torch_num_threads": torch.get_num_threads(),
            "max_position_embeddings": getattr(cfg, "max_position_embeddings", None),
        }

    def _engine_notes(self):
        notes = ["transformers allocates its KV cache per generate call: no fixed KV capacity"]
        if self.varied:
            notes.append("static batches: prompts left-padded to the batch's longest; every request of a batch generates "
                         "the batch's longest output length and is counted to its own")
        return notes

    def _engine_close(self, model):
        del model
        gc.collect()


def _cuda():
    import torch

    return torch.cuda.is_available()


def _torch_dtype(name):
    import torch

    if name in (None, "auto"):
        return "auto"
    aliases = {"half": "float16", "float": "float32", "bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
    name = aliases.get(name, name)
    dt = getattr(torch, name, None)
    if not isinstance(dt, torch.dtype):
        raise base.ConfigError(f"unknown dtype {name!r} for transformers: use float32, bfloat16 or float16")
    return dt


base.expose(globals(), Transformers())

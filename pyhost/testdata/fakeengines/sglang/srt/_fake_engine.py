# FAKE sglang (enginebench test double) -- the part with no real counterpart:
# server-args resolution, the "scheduler" and deterministic tokens.
#
# Behaviours copied from the SGLang 0.5.23 sources (read, not run):
#  * GenerateReqInput.normalize_batch_and_arguments (io_struct.py): input
#    checks, batch detection, parallel sampling n, rid and sampling_params
#    normalisation and their ValueError messages;
#  * TokenizerManager._validate_one_request: prompt >= context_len and
#    prompt + max_new_tokens (only when max_new_tokens is in the request dict)
#    > context_len raise ValueError;
#  * Scheduler: max_req_len = min(context_len - 1, kv_capacity - 1),
#    max_req_input_len = max_req_len - 5 (longer prompts are aborted and the
#    Engine raises ValueError), and max_new_tokens is silently clamped to
#    max_req_len - prompt_len - 1 (so prompt + max_new_tokens >= context_len - 1
#    returns fewer tokens with finish_reason {"type": "length", "length": clamp});
#  * finish_reason dicts FINISH_LENGTH / FINISH_MATCHED_TOKEN / FINISH_MATCHED_STR;
#  * meta_info keys of TokenizerManager._handle_batch_output.
from __future__ import annotations

import math
import os
import random
import time
import uuid
from typing import Any

import _enginebench_fake as F

ENGINE = "sglang"
FAKE_DEVICE_BYTES = 16 * 1024**3


class HFValidationError(ValueError):
    """Same class name as huggingface_hub.errors.HFValidationError (a ValueError)."""


def _model_dir(model_path: str) -> F.ModelDir:
    if os.path.isdir(model_path):
        if not os.path.isfile(os.path.join(model_path, "config.json")):
            raise OSError(
                f"{model_path} does not appear to have a file named config.json. "
                "(FAKE sglang: message approximates transformers' AutoConfig error)"
            )
        return F.ModelDir(model_path)
    if F.looks_like_repo_id(model_path):
        raise OSError(
            f"We couldn't connect to 'https://huggingface.co' to load the files, and couldn't find "
            f"them in the cached files. Check your internet connection or see how to run the library "
            f"in offline mode at 'https://huggingface.co/docs/transformers/installation#offline-mode'. "
            f"(FAKE sglang: {model_path!r} is not a local directory)"
        )
    raise HFValidationError(
        "Repo id must be in the form 'repo_name' or 'namespace/repo_name': "
        f"'{model_path}'. Use `repo_type` argument if needed."
    )


def resolve_server_args(sa) -> dict[str, Any]:
    """The resolved values the fake models (everything else stays as given).

    Raises the startup errors the real launch would (model dir, tokenizer,
    context_length greater than the model's).
    """
    md = _model_dir(sa.model_path)
    tokenizer_path = sa.tokenizer_path or sa.model_path
    if not sa.skip_tokenizer_init:
        if not (os.path.isdir(tokenizer_path) and any(
            os.path.isfile(os.path.join(tokenizer_path, n)) for n in F.TOKENIZER_FILES
        )):
            raise OSError(
                f"Can't load tokenizer for '{tokenizer_path}'. (FAKE sglang: no tokenizer files; "
                "pass skip_tokenizer_init=True)"
            )
    derived = md.max_position_embeddings
    if sa.context_length is not None and sa.context_length > derived:
        if os.environ.get("SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN", "").lower() not in ("1", "true"):
            msg = (
                f"Warning: User-specified context_length ({sa.context_length}) is greater than the derived "
                f"context_length ({derived}). This may lead to incorrect model outputs or CUDA errors. "
                "Note that the derived context_length may differ from max_position_embeddings in the "
                "model's config."
            )
            raise ValueError(
                f"{msg} To allow overriding this maximum, set the env var SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN=1"
            )
    resolved: dict[str, Any] = {"tokenizer_path": tokenizer_path}
    if sa.random_seed is None:
        resolved["random_seed"] = random.randint(0, 1 << 30)
    if sa.device is None:
        resolved["device"] = "cuda"
    if sa.mem_fraction_static is None:
        resolved["mem_fraction_static"] = 0.88
    if sa.chunked_prefill_size is None:
        resolved["chunked_prefill_size"] = 4096
    if sa.cuda_graph_max_bs_decode is None and not sa.disable_cuda_graph:
        resolved["cuda_graph_max_bs_decode"] = 160
    return resolved


class FakeRuntime:
    """Stands in for the scheduler + detokenizer subprocesses."""

    def __init__(self, server_args, control: F.Control):
        self.sa = server_args
        self.control = control
        self.alive = True
        server_args.resolve_once()
        resolved = server_args.resolved_dict()
        self.resolved = resolved
        self.md = F.ModelDir(server_args.model_path)
        self.vocab_size = self.md.vocab_size
        derived = self.md.max_position_embeddings
        self.context_len = int(server_args.context_length or derived)
        self.skip_tokenizer_init = bool(server_args.skip_tokenizer_init)
        self.tokenizer = None if self.skip_tokenizer_init else _FakeTokenizer(self)
        self.eos_ids = set(self.md.eos_token_ids) | set(self.md.generation_eos_token_ids)

        F.log(ENGINE, f"FAKE engine (not SGLang) loading {server_args.model_path} context_len={self.context_len}")
        t0 = time.perf_counter()
        control.at_load()
        dtype_bytes = 4 if str(server_args.dtype) in ("float", "float32") else 2
        per_token = self.md.kv_bytes_per_token(dtype_bytes)
        if control.kv_cache_tokens is not None:
            kv = int(control.kv_cache_tokens)
        elif server_args.max_total_tokens is not None:
            kv = int(server_args.max_total_tokens)
        else:
            kv = int(resolved["mem_fraction_static"] * FAKE_DEVICE_BYTES * 0.5) // per_token
        if kv <= 0:
            raise RuntimeError("Not enough memory. Please try to increase --mem-fraction-static.")
        self.max_total_num_tokens = kv
        self.max_req_len = min(self.context_len - 1, kv - 1)
        self.max_req_input_len = self.max_req_len - 5
        if server_args.max_running_requests is not None:
            self.max_running_requests = int(server_args.max_running_requests)
        else:
            self.max_running_requests = min(max(int(kv / self.context_len * 512), 2048), 4096)
        self.radix = None if server_args.disable_radix_cache else F.PrefixCache(1)
        load_s = time.perf_counter() - t0
        self.startup_time = {
            "load_weight": load_s,
            "kv_cache_allocation": 0.0,
            "scheduler_e2e": load_s,
            "cuda_graph": {"decode": 0.0, "prefill": 0.0},
            "tokenizer_e2e": load_s,
        }
        self.last_gen_throughput = 0.0
        self.child_pids: list[int] = []
        F.log(ENGINE, f"max_total_num_tokens={kv}, max_running_requests={self.max_running_requests} (FAKE)")

    # -- info -----------------------------------------------------------------
    def scheduler_info(self) -> dict[str, Any]:
        return {
            "status": "ready",
            "max_total_num_tokens": self.max_total_num_tokens,
            "max_req_input_len": self.max_req_input_len,
            "startup_time": self.startup_time,
        }

    def internal_state(self) -> dict[str, Any]:
        state = self.sa.resolved_dict()
        state.pop("custom_sigquit_handler", None)
        state.update(
            {
                "world_size": self.sa.dp_size * self.sa.tp_size * self.sa.pp_size,
                "startup_time": self.startup_time,
                "effective_max_running_requests_per_dp": self.max_running_requests,
                "last_gen_throughput": self.last_gen_throughput,
                "memory_usage": {
                    "weight": 0.0,
                    "kvcache": 0.0,
                    "startup_available": 0.0,
                    "token_capacity": int(self.max_total_num_tokens),
                    "token_capacity_swa": None,
                    "graph": {},
                },
            }
        )
        return state

    # -- generate -------------------------------------------------------------
    def normalize(self, text, input_ids, sampling_params, rid, input_embeds=None):
        """GenerateReqInput.normalize_batch_and_arguments (copied logic/messages)."""
        if (text is None and input_ids is None and input_embeds is None) or (
            text is not None and input_ids is not None and input_embeds is not None
        ):
            raise ValueError("Either text, input_ids or input_embeds should be provided.")
        if text is not None:
            is_single = isinstance(text, str)
            batch_size = 1 if is_single else len(text)
        elif input_ids is not None:
            if len(input_ids) == 0:
                raise ValueError("input_ids cannot be empty.")
            if isinstance(input_ids[0], int):
                is_single, batch_size = True, 1
            else:
                is_single, batch_size = False, len(input_ids)
        else:
            raise ValueError("fake sglang does not support input_embeds")

        if sampling_params is None:
            n = 1
        elif isinstance(sampling_params, dict):
            n = sampling_params.get("n", 1)
        else:
            n = sampling_params[0].get("n", 1)
            for sp in sampling_params:
                if n != sp.get("n", 1):
                    raise ValueError(
                        "The parallel_sample_num should be the same for all samples in sample params."
                    )
        if n > 1 and is_single:
            is_single = False
            if text is not None:
                text = [text]
            if input_ids is not None:
                input_ids = [input_ids]

        if is_single:
            return True, [(text, input_ids, dict(sampling_params or {}), rid or uuid.uuid4().hex, 0)], 1

        num = batch_size * n
        if text is not None:
            if not isinstance(text, list):
                raise ValueError("Text should be a list for batch processing.")
        else:
            if not isinstance(input_ids, list) or not isinstance(input_ids[0], list):
                raise ValueError("input_ids should be a list of lists for batch processing.")
        if rid is None:
            rids = [uuid.uuid4().hex for _ in range(batch_size)]
        elif isinstance(rid, str):
            rids = [f"{rid}_{i}" for i in range(batch_size)]
        elif isinstance(rid, list):
            if len(rid) != batch_size:
                raise ValueError("The specified rids length mismatch with the batch_size for batch processing.")
            rids = list(rid)
        else:
            raise ValueError("The rid should be a string or a list of strings.")
        if sampling_params is None:
            sps = [{}] * batch_size
        elif isinstance(sampling_params, dict):
            sps = [sampling_params] * batch_size
        else:
            sps = list(sampling_params)
        reqs = []
        for i in range(batch_size):
            sp = sps[i]  # IndexError when the list is shorter than the batch, as in the real one
            for j in range(n):
                r = rids[i] if n == 1 else uuid.uuid4().hex
                reqs.append((text[i] if text is not None else None,
                             input_ids[i] if input_ids is not None else None, dict(sp), r, j))
        return False, reqs, num

    def prepare(self, reqs):
        """Tokenize + validate + build SamplingParams, per request, before anything runs."""
        from sglang.srt.sampling.sampling_params import SamplingParams

        prepared = []
        for text, ids, spd, rid, sample in reqs:
            if ids is None:
                if self.tokenizer is None:
                    raise ValueError(
                        "The engine initialized with skip_tokenizer_init=True cannot "
                        "accept text prompts. Please provide input_ids or re-initialize "
                        "the engine with skip_tokenizer_init=False."
                    )
                ids = self.tokenizer.encode(text)
            ids = list(ids)
            if len(ids) == 0:
                raise ValueError(
                    "fake sglang: an empty input_ids element in a batch (the real 0.5.23 has no "
                    "check for this; its behaviour is undefined)"
                )
            n_in = len(ids)
            if n_in >= self.context_len:
                raise ValueError(
                    f"The input ({n_in} tokens) is longer than the "
                    f"model's context length ({self.context_len} tokens)."
                )
            mnt = spd.get("max_new_tokens")
            if mnt is not None and (mnt + n_in) > self.context_len:
                raise ValueError(
                    f"Requested token count exceeds the model's maximum context length "
                    f"of {self.context_len} tokens. You requested a total of {mnt + n_in} "
                    f"tokens: {n_in} tokens from the input messages and "
                    f"{mnt} tokens for the completion. Please reduce the number "
                    f"of tokens in the input messages or the completion to fit within the limit."
                )
            sp = SamplingParams(**spd)
            sp.normalize(self.tokenizer)
            sp.verify(self.vocab_size)
            bad = [t for t in ids if not isinstance(t, int) or t < 0 or t >= self.vocab_size]
            if bad:
                raise RuntimeError(
                    f"fake sglang: input id {bad[0]} outside [0, {self.vocab_size}); the real 0.5.23 "
                    "does not validate prompt ids (behaviour undefined, likely a scheduler crash)"
                )
            prepared.append((text, ids, sp, rid, sample))
        # scheduler-side checks (aborts surface as ValueError from Engine.generate)
        for _, ids, _, rid, _ in prepared:
            if len(ids) >= self.max_req_input_len:
                raise ValueError(
                    f"Input length ({len(ids)} tokens) exceeds "
                    f"the maximum allowed length ({self.max_req_input_len} tokens). "
                    f"Use a shorter input or enable --allow-auto-truncate."
                )
        return prepared

    def run(self, call: int, prepared, *, enable_metrics: bool, weight_version: str):
        created = time.perf_counter()
        created_wall = time.time()
        cached_override = self.control.cached_override(call)
        results = []
        for idx, (text, ids, sp, rid, sample) in enumerate(prepared):
            max_new = sp.max_new_tokens if sp.max_new_tokens is not None else 1 << 30
            max_new = max(0, min(max_new, self.max_req_len - len(ids) - 1))
            min_new = min(sp.min_new_tokens, max_new)
            # real _check_token_based_finish: ignore_eos disables stop_token_ids too
            stop_ids = set() if sp.ignore_eos else set(sp.stop_token_ids or ())
            toks, kind, matched = F.generate_tokens(
                ids,
                vocab_size=self.vocab_size,
                max_new=max_new,
                min_new=min_new,
                stop_ids=stop_ids,
                eos_ids=self.eos_ids,
                ignore_eos=sp.ignore_eos,
                eos_at=self.control.eos_at,
                eos_token=min(self.eos_ids) if self.eos_ids else None,
                sample=sample,
            )
            finish: dict[str, Any]
            if kind == "stop":
                finish = {"type": "stop", "matched": matched}
            else:
                finish = {"type": "length", "length": max_new}
            out_text = None
            if self.tokenizer is not None:
                out_text = F.fake_text(toks)
                for s in sp.stop_strs or []:
                    pos = out_text.find(s)
                    if pos >= 0:
                        # cut at the token whose text completes the stop string
                        acc = ""
                        for k, t in enumerate(toks):
                            acc += F.fake_text([t])
                            if s in acc:
                                toks = toks[: k + 1]
                                break
                        out_text = acc if sp.no_stop_trim else acc[: acc.find(s)]
                        finish = {"type": "stop", "matched": s}
                        break
            short = self.control.short_by(call, idx)
            if short:
                toks = toks[: max(0, len(toks) - short)]
                if out_text is not None:
                    out_text = F.fake_text(toks)
            if cached_override is not None:
                cached = cached_override
            elif self.radix is not None:
                cached = self.radix.lookup(ids)
            else:
                cached = 0
            results.append((ids, toks, out_text, finish, cached, rid))

        total = sum(len(r[1]) for r in results)
        duration = self.control.call_duration(total)
        self.control.before_run(call, duration)
        if duration > 0:
            time.sleep(duration)
        if self.radix is not None:
            for ids, toks, *_ in results:
                self.radix.insert(list(ids) + list(toks))
        finished = time.perf_counter()
        if duration > 0:
            self.last_gen_throughput = total / duration

        outs = []
        for ids, toks, out_text, finish, cached, rid in results:
            meta: dict[str, Any] = {
                "id": rid,
                "finish_reason": finish,
                "prompt_tokens": len(ids),
                "weight_version": weight_version,
                "num_retractions": 0,
            }
            if enable_metrics:
                meta.update({"forward_entry_time": created_wall, "prefill_finished_time": created_wall,
                             "queue_time": 0.0})
            meta.update({"reasoning_tokens": 0, "completion_tokens": len(toks), "cached_tokens": cached})
            e2e = finished - created
            meta["e2e_latency"] = e2e
            if enable_metrics:
                first = e2e * 0.1
                meta.update(
                    {
                        "request_received_ts": created_wall,
                        "first_token_latency": first,
                        "api_server_dispatch_finish_ts": created_wall,
                        "request_finished_ts": created_wall + e2e,
                    }
                )
                if len(toks) > 1 and e2e > first:
                    meta["decode_throughput"] = (len(toks) - 1) / (e2e - first)
            out: dict[str, Any] = {}
            if out_text is not None:
                out["text"] = out_text
            out["output_ids"] = list(toks)
            out["meta_info"] = meta
            outs.append(out)
        return outs


class _FakeTokenizer:
    def __init__(self, rt: FakeRuntime):
        self._vocab = rt.vocab_size
        self.eos_token_id = min(rt.md.eos_token_ids) if rt.md.eos_token_ids else None

    def encode(self, text: str, add_special_tokens: bool = True) -> list[int]:
        return F.fake_tokenize(text, self._vocab)

    def decode(self, ids, skip_special_tokens: bool = True) -> str:
        return F.fake_text(ids)

#!/usr/bin/env python3
"""Self-test of enginebench's FAKE vllm and sglang packages (test doubles).

Run:    python3 pyhost/testdata/fakeengines/selftest.py      (exit 1 on failure)
or:     python3 -m pytest pyhost/testdata/fakeengines/selftest.py

Exercises the API surface both fakes keep from the real engines and every
ENGINEBENCH_FAKE misbehaviour except crash and hang (those end or block the
process; the host's tests cover them in a subprocess).
Standard library only; CPython 3.10 - 3.13.
"""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import sys
import tempfile
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
if sys.path[:1] != [HERE]:
    sys.path.insert(0, HERE)

import _enginebench_fake as F  # noqa: E402

VOCAB = 1000
MAXPOS = 512
EOS = 2

_TMP = tempfile.TemporaryDirectory(prefix="fakeengines-selftest-")


def _make_model(name: str, *, tokenizer: bool, generation_config: dict | None = None) -> str:
    d = os.path.join(_TMP.name, name)
    os.makedirs(d, exist_ok=True)
    cfg = {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "vocab_size": VOCAB,
        "max_position_embeddings": MAXPOS,
        "hidden_size": 64,
        "num_attention_heads": 2,
        "num_key_value_heads": 1,
        "num_hidden_layers": 2,
        "eos_token_id": EOS,
        "bos_token_id": 1,
        "torch_dtype": "bfloat16",
    }
    with open(os.path.join(d, "config.json"), "w") as f:
        json.dump(cfg, f)
    if generation_config is not None:
        with open(os.path.join(d, "generation_config.json"), "w") as f:
            json.dump(generation_config, f)
    if tokenizer:
        with open(os.path.join(d, "tokenizer.json"), "w") as f:
            f.write("{}")
    return d


MODEL_NOTOK = _make_model("notok", tokenizer=False, generation_config={"eos_token_id": EOS})
MODEL_TOK = _make_model("tok", tokenizer=True, generation_config={"eos_token_id": EOS})
MODEL_GENCFG = _make_model("gencfg", tokenizer=False, generation_config={"eos_token_id": EOS, "max_new_tokens": 5, "temperature": 0.6})
EMPTY_DIR = os.path.join(_TMP.name, "empty")
os.makedirs(EMPTY_DIR, exist_ok=True)


def _set_control(engine: str | None = None, **section) -> None:
    if engine is None:
        os.environ.pop(F.ENV_VAR, None)
    else:
        os.environ[F.ENV_VAR] = json.dumps({engine: section})


def _raises(exc_type, fn, contains: str | None = None):
    try:
        fn()
    except exc_type as e:
        if contains is not None:
            assert contains in str(e), f"{contains!r} not in {str(e)!r}"
        return e
    except Exception as e:  # pragma: no cover - reported as failure
        raise AssertionError(f"expected {exc_type.__name__}, got {type(e).__name__}: {e}") from e
    raise AssertionError(f"expected {exc_type.__name__}, nothing raised")


def _tok(prompt, i, sample=0):
    return (sum(prompt) * 31 + i + 7919 * sample) % VOCAB


# ---------------------------------------------------------------------------
# vllm
# ---------------------------------------------------------------------------


def _llm(model=MODEL_NOTOK, **kw):
    from vllm import LLM

    kw.setdefault("skip_tokenizer_init", model == MODEL_NOTOK)
    return LLM(model, **kw)


def test_vllm_is_the_fake_and_imports():
    import vllm

    assert vllm.__enginebench_fake__ is True, vllm.__file__
    assert vllm.__file__.startswith(HERE), vllm.__file__
    assert vllm.__version__ == "0.0.0+fake.0.32.0" and vllm.FAKE_MIMICS_VERSION == "0.32.0"
    from vllm import LLM, CompletionOutput, EngineArgs, RequestOutput, SamplingParams, TokensPrompt  # noqa: F401
    from vllm.engine.arg_utils import EngineArgs as EA2
    from vllm.inputs import TokensPrompt as TP2
    from vllm.outputs import CompletionOutput as CO2, RequestOutput as RO2  # noqa: F401
    from vllm.v1.metrics.stats import RequestStateStats  # noqa: F401
    from vllm.exceptions import VLLMValidationError  # noqa: F401
    from vllm.v1.engine.exceptions import EngineDeadError  # noqa: F401

    assert EA2 is EngineArgs and TP2 is TokensPrompt
    assert TokensPrompt(prompt_token_ids=[1, 2]) == {"prompt_token_ids": [1, 2]}
    assert TokensPrompt.__required_keys__ == frozenset({"prompt_token_ids"})
    _raises(AttributeError, lambda: vllm.NoSuchThing)


def test_vllm_engine_args_fields():
    from vllm.engine.arg_utils import EngineArgs

    assert dataclasses.is_dataclass(EngineArgs)
    fields = {f.name: f for f in dataclasses.fields(EngineArgs)}
    assert len(fields) == 256, len(fields)
    expect = {
        "model": "Qwen/Qwen3-0.6B", "dtype": "auto", "seed": 0, "max_model_len": None,
        "max_num_seqs": None, "max_num_batched_tokens": None, "enable_prefix_caching": None,
        "gpu_memory_utilization": 0.92, "kv_cache_memory_bytes": None, "block_size": None,
        "enforce_eager": False, "skip_tokenizer_init": False, "disable_log_stats": False,
        "tensor_parallel_size": 1, "trust_remote_code": False, "load_format": "auto",
        "generation_config": "auto", "enable_chunked_prefill": None, "num_gpu_blocks_override": None,
        "kv_cache_dtype": "auto", "async_scheduling": None, "data_parallel_size": 1,
    }
    for k, v in expect.items():
        assert fields[k].default == v, (k, fields[k].default, v)
    assert "swap_space" not in fields
    e = _raises(TypeError, lambda: EngineArgs(foo_bar=1))
    assert "got an unexpected keyword argument 'foo_bar'" in str(e)


def test_vllm_signatures():
    from vllm import LLM

    sig = inspect.signature(LLM.__init__)
    params = list(sig.parameters.values())
    assert params[1].name == "model" and params[1].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in params[2:-1])
    assert params[-1].kind is inspect.Parameter.VAR_KEYWORD
    assert sig.parameters["gpu_memory_utilization"].default == 0.92
    assert sig.parameters["seed"].default == 0
    g = inspect.signature(LLM.generate).parameters
    assert list(g)[:3] == ["self", "prompts", "sampling_params"]
    for name, default in [("use_tqdm", True), ("lora_request", None), ("priority", None),
                          ("tokenization_kwargs", None), ("mm_processor_kwargs", None)]:
        assert g[name].kind is inspect.Parameter.KEYWORD_ONLY and g[name].default == default, name


def test_vllm_sampling_params():
    from vllm import SamplingParams
    from vllm.exceptions import VLLMValidationError

    sp = SamplingParams()
    assert (sp.n, sp.temperature, sp.top_p, sp.top_k, sp.seed, sp.max_tokens, sp.min_tokens) == (1, 1.0, 1.0, 0, None, 16, 0)
    assert (sp.ignore_eos, sp.detokenize, sp.stop, sp.stop_token_ids) == (False, True, [], [])
    assert SamplingParams.__struct_fields__[0] == "n" and len(SamplingParams.__struct_fields__) == 43
    assert inspect.signature(SamplingParams).parameters["max_tokens"].default == 16
    _raises(TypeError, lambda: SamplingParams(foo=1), "Unexpected keyword argument 'foo'")
    _raises(VLLMValidationError, lambda: SamplingParams(max_tokens=0), "max_tokens must be at least 1")
    _raises(VLLMValidationError, lambda: SamplingParams(min_tokens=5, max_tokens=2), "min_tokens must be less than or equal")
    _raises(VLLMValidationError, lambda: SamplingParams(n=2, temperature=0.0), "n must be 1 when using greedy")
    _raises(VLLMValidationError, lambda: SamplingParams(stop=["x"], detokenize=False), "detokenize")
    assert not issubclass(VLLMValidationError, ValueError)
    assert SamplingParams(stop="ab").stop == ["ab"]
    assert SamplingParams(temperature=0).top_k == 0
    c = SamplingParams(max_tokens=3).clone()
    assert c.max_tokens == 3 and c == SamplingParams(max_tokens=3)


def test_vllm_load_errors():
    from vllm import LLM

    _raises(TypeError, lambda: LLM(MODEL_NOTOK, foo_bar=1), "got an unexpected keyword argument 'foo_bar'")
    _raises(TypeError, lambda: LLM(MODEL_NOTOK, swap_space=4), "swap_space")
    e = _raises(ValueError, lambda: LLM("/nonexistent/model/dir", skip_tokenizer_init=True), "Repo id must be")
    assert type(e).__name__ == "HFValidationError"
    e = _raises(FileNotFoundError, lambda: LLM("no-such-org/no-such-model", skip_tokenizer_init=True))
    assert type(e).__name__ == "LocalEntryNotFoundError"
    _raises(ValueError, lambda: LLM(EMPTY_DIR, skip_tokenizer_init=True), "Invalid repository ID or local directory")
    _raises(ValueError, lambda: _llm(max_model_len=MAXPOS + 1), "User-specified max_model_len")
    _raises(OSError, lambda: LLM(MODEL_NOTOK), "Can't load tokenizer")
    _raises(ValueError, lambda: _llm(data_parallel_size=2), "data_parallel_size=2")


def test_vllm_effective_config():
    _set_control()
    llm = _llm(dtype="auto", max_num_seqs=3)
    vc = llm.llm_engine.vllm_config
    assert str(vc.model_config.dtype) == "torch.bfloat16"
    assert vc.model_config.max_model_len == MAXPOS and vc.model_config.get_vocab_size() == VOCAB
    assert vc.cache_config.block_size == 16 and vc.cache_config.enable_prefix_caching is True
    assert vc.cache_config.num_gpu_blocks > 0 and vc.cache_config.gpu_memory_utilization == 0.92
    assert vc.scheduler_config.max_num_seqs == 3 and vc.scheduler_config.max_num_batched_tokens == 8192
    assert vc.scheduler_config.enable_chunked_prefill is True
    assert llm.llm_engine.model_config is vc.model_config
    assert llm.llm_engine.log_stats is False
    assert type(llm.llm_engine.engine_core).__name__ == "SyncMPClient"
    assert "timeout" in inspect.signature(llm.llm_engine.engine_core.shutdown).parameters
    llm.llm_engine.engine_core.shutdown()

    _set_control("vllm", kv_cache_tokens=4096)
    llm = _llm(block_size=32)
    cc = llm.llm_engine.vllm_config.cache_config
    assert cc.num_gpu_blocks == 4096 // 32 and cc.block_size == 32
    _set_control("vllm", kv_cache_tokens=64)
    _raises(ValueError, lambda: _llm(), "To serve at least one request with the model's max seq len")
    _set_control()
    llm = _llm(kv_cache_memory_bytes=1 << 20, dtype="float32")
    per_token = 2 * 2 * 1 * 32 * 4
    assert llm.llm_engine.vllm_config.cache_config.num_gpu_blocks == (1 << 20) // per_token // 16


def test_vllm_generate_basic():
    from vllm import SamplingParams, TokensPrompt
    from vllm.outputs import CompletionOutput, RequestOutput
    from vllm.v1.metrics.stats import RequestStateStats

    _set_control()
    llm = _llm(max_num_seqs=2, disable_log_stats=False, enable_prefix_caching=False)
    prompts = [[5, 6, 7], list(range(10, 30)), [1, 2, 3, 4, 5]]
    sp = SamplingParams(max_tokens=8, min_tokens=8, ignore_eos=True, temperature=0.0, detokenize=False)
    outs = llm.generate([{"prompt_token_ids": prompts[0]}, TokensPrompt(prompt_token_ids=prompts[1]), prompts[2]],
                        sp, use_tqdm=False)
    assert [o.request_id for o in outs] == ["0", "1", "2"]
    for o, p in zip(outs, prompts):
        assert isinstance(o, RequestOutput) and o.finished and o.prompt is None
        assert o.prompt_token_ids == p
        (c,) = o.outputs
        assert isinstance(c, CompletionOutput)
        assert list(c.token_ids) == [_tok(p, i) for i in range(8)]
        assert c.finish_reason == "length" and c.stop_reason is None and c.text == ""
        assert c.index == 0 and c.cumulative_logprob is None and c.logprobs is None
        assert isinstance(o.metrics, RequestStateStats) and o.metrics.num_generation_tokens == 8
        assert o.metrics.first_token_ts >= o.metrics.scheduled_ts >= o.metrics.queued_ts
        assert o.metrics.last_token_ts >= o.metrics.first_token_ts and o.metrics.first_token_latency >= 0
        assert o.num_cached_tokens == 0
    # bare list[int] is ONE prompt; request ids keep counting
    outs = llm.generate([9, 9, 9], sp, use_tqdm=False)
    assert len(outs) == 1 and outs[0].request_id == "3"
    # sampling_params list must match
    from vllm.exceptions import VLLMValidationError

    _raises(VLLMValidationError, lambda: llm.generate([[1], [2]], [sp], use_tqdm=False), "must be the same")
    _raises(TypeError, lambda: llm.generate([[1]], sp, foo=1), "LLM.generate() got an unexpected keyword argument 'foo'")
    # metrics are None unless disable_log_stats=False
    llm2 = _llm()
    assert llm2.generate([[1, 2]], sp, use_tqdm=False)[0].metrics is None
    # default SamplingParams: max_tokens 16
    assert len(llm2.generate([[1, 2]], use_tqdm=False)[0].outputs[0].token_ids) == 16
    # n > 1
    o = llm2.generate([[1, 2]], SamplingParams(n=2, max_tokens=3, ignore_eos=True), use_tqdm=False)[0]
    assert [c.index for c in o.outputs] == [0, 1]
    assert list(o.outputs[1].token_ids) == [_tok([1, 2], i, 1) for i in range(3)]


def test_vllm_generation_config_defaults():
    _set_control()
    llm = _llm(MODEL_GENCFG, skip_tokenizer_init=True)
    o = llm.generate([[1, 2, 3]], use_tqdm=False)[0]
    assert len(o.outputs[0].token_ids) == 5  # max_new_tokens from generation_config.json
    llm = _llm(MODEL_GENCFG, skip_tokenizer_init=True, generation_config="vllm")
    assert len(llm.generate([[1, 2, 3]], use_tqdm=False)[0].outputs[0].token_ids) == 16


def test_vllm_validation():
    from vllm import SamplingParams
    from vllm.exceptions import VLLMValidationError
    from vllm.v1.engine.exceptions import EngineDeadError

    _set_control()
    sp = SamplingParams(max_tokens=4, ignore_eos=True)
    llm = _llm(max_model_len=64)
    _raises(VLLMValidationError, lambda: llm.generate([{"prompt_token_ids": []}], sp, use_tqdm=False),
            "The decoder prompt cannot be empty")
    _raises(VLLMValidationError, lambda: llm.generate([[5] * 64], sp, use_tqdm=False), "plus the number of requested output tokens")
    _raises(VLLMValidationError, lambda: llm.generate([[5] * 65], sp, use_tqdm=False), "longer than the maximum model length of 64")
    _raises(TypeError, lambda: llm.generate([["a"]], sp, use_tqdm=False), "Token prompt should be a list of integers")
    _raises(ValueError, lambda: llm.generate(["hello"], sp, use_tqdm=False), "Tokenizer not available")
    # prompt + max_tokens > max_model_len: NOT rejected, silently cut
    o = llm.generate([[5] * 60], SamplingParams(max_tokens=10, ignore_eos=True), use_tqdm=False)[0]
    assert len(o.outputs[0].token_ids) == 4 and o.outputs[0].finish_reason == "length"
    # out of vocabulary WITH a tokenizer: validation error, engine survives
    llm_t = _llm(MODEL_TOK)
    _raises(VLLMValidationError, lambda: llm_t.generate([[5, VOCAB]], sp, use_tqdm=False), f"Token id {VOCAB} is out of vocabulary")
    _raises(VLLMValidationError, lambda: llm_t.generate([[-1, 5]], sp, use_tqdm=False), "Token id -1 is out of vocabulary")
    assert llm_t.generate([[5, 6]], sp, use_tqdm=False)[0].outputs[0].text.startswith(" t")
    o = llm_t.generate(["hi"], sp, use_tqdm=False)[0]
    assert o.prompt == "hi" and o.prompt_token_ids == F.fake_tokenize("hi", VOCAB)
    # WITHOUT a tokenizer: the engine dies, now and later
    _raises(EngineDeadError, lambda: llm.generate([[5, VOCAB]], sp, use_tqdm=False), "EngineCore encountered an issue")
    _raises(EngineDeadError, lambda: llm.generate([[5, 6]], sp, use_tqdm=False))


def test_vllm_eos_and_stops():
    from vllm import SamplingParams

    p = [7, 8, 9]
    _set_control("vllm", eos_at=3)
    llm = _llm()  # no tokenizer: eos comes from generation_config.json into stop_token_ids
    c = llm.generate([p], SamplingParams(max_tokens=10), use_tqdm=False)[0].outputs[0]
    assert list(c.token_ids) == [_tok(p, 0), _tok(p, 1), _tok(p, 2), EOS]
    assert c.finish_reason == "stop" and c.stop_reason == EOS
    c = llm.generate([p], SamplingParams(max_tokens=10, ignore_eos=True), use_tqdm=False)[0].outputs[0]
    assert len(c.token_ids) == 10 and c.token_ids[3] == EOS and c.finish_reason == "length"
    c = llm.generate([p], SamplingParams(max_tokens=10, min_tokens=6), use_tqdm=False)[0].outputs[0]
    assert len(c.token_ids) == 10 and EOS not in c.token_ids  # eos suppressed before min_tokens
    llm_t = _llm(MODEL_TOK)  # with a tokenizer: primary eos, stop_reason None
    c = llm_t.generate([p], SamplingParams(max_tokens=10), use_tqdm=False)[0].outputs[0]
    assert c.finish_reason == "stop" and c.stop_reason is None and c.token_ids[-1] == EOS
    _set_control()
    llm = _llm()  # the control is read when the engine is constructed
    stop_tok = _tok(p, 2)
    c = llm.generate([p], SamplingParams(max_tokens=10, stop_token_ids=[stop_tok]), use_tqdm=False)[0].outputs[0]
    assert c.finish_reason == "stop" and c.stop_reason == stop_tok and len(c.token_ids) == 3
    c = llm.generate([p], SamplingParams(max_tokens=10, stop=["zz"]), use_tqdm=False)[0].outputs[0]
    assert c.finish_reason == "length"  # stop strings are ignored without a tokenizer (as in the real one)


def test_vllm_prefix_cache():
    from vllm import SamplingParams

    _set_control()
    sp = SamplingParams(max_tokens=2, ignore_eos=True)
    llm = _llm(block_size=16)
    p = list(range(100, 150))  # 50 tokens: 3 full blocks
    assert llm.generate([p], sp, use_tqdm=False)[0].num_cached_tokens == 0
    assert llm.generate([p], sp, use_tqdm=False)[0].num_cached_tokens == 48
    assert llm.generate([p[:32]], sp, use_tqdm=False)[0].num_cached_tokens == 16  # last token always computed
    q = list(range(300, 340))
    assert [o.num_cached_tokens for o in llm.generate([q, q, q], sp, use_tqdm=False)] == [0, 32, 32]
    assert llm.reset_prefix_cache() is True
    assert llm.generate([p], sp, use_tqdm=False)[0].num_cached_tokens == 0
    off = _llm(enable_prefix_caching=False)
    off.generate([p], sp, use_tqdm=False)
    assert off.generate([p], sp, use_tqdm=False)[0].num_cached_tokens == 0


def test_vllm_misbehaviour():
    from vllm import SamplingParams
    from vllm.v1.engine.exceptions import EngineDeadError

    sp = SamplingParams(max_tokens=6, ignore_eos=True)
    c0 = F.calls_so_far("vllm")
    _set_control("vllm", short={"call": c0 + 2, "requests": 1, "by": 3}, cached={"call": c0 + 3, "tokens": 16},
                 **{"raise": {"call": c0 + 4, "message": "boom"}})
    llm = _llm()
    ps = [[1, 2], [3, 4], [5, 6]]
    assert [len(o.outputs[0].token_ids) for o in llm.generate(ps, sp, use_tqdm=False)] == [6, 6, 6]
    assert [len(o.outputs[0].token_ids) for o in llm.generate(ps, sp, use_tqdm=False)] == [3, 6, 6]
    assert [o.num_cached_tokens for o in llm.generate(ps, sp, use_tqdm=False)] == [16, 16, 16]
    _raises(RuntimeError, lambda: llm.generate(ps, sp, use_tqdm=False), "boom")
    assert len(llm.generate(ps, sp, use_tqdm=False)) == 3  # a raise does not kill the engine
    llm.llm_engine.engine_core.shutdown()
    _raises(EngineDeadError, lambda: llm.generate(ps, sp, use_tqdm=False))

    _set_control("vllm", fail_load="CUDA out of memory (fake)")
    _raises(RuntimeError, lambda: _llm(), "CUDA out of memory (fake)")
    _set_control("vllm", load_s=0.2, sleep_s=0.05, sleep_per_token_s=0.001)
    t = time.monotonic()
    llm = _llm()
    assert time.monotonic() - t >= 0.2
    t = time.monotonic()
    llm.generate(ps, sp, use_tqdm=False)
    assert time.monotonic() - t >= 0.05 + 0.001 * 18 - 1e-3
    rec = os.path.join(_TMP.name, "vllm-record.jsonl")
    _set_control("vllm", record=rec)
    llm = _llm()
    llm.generate(ps, sp, use_tqdm=False)
    llm.generate([[7, 8, 9]], sp, use_tqdm=False)
    with open(rec) as f:
        assert [json.loads(line) for line in f] == [ps, [[7, 8, 9]]]
    _set_control("vllm", nonsense=1)
    _raises(ValueError, lambda: _llm(), "unknown key")
    os.environ[F.ENV_VAR] = "{not json"
    _raises(ValueError, lambda: _llm(), "not valid JSON")
    _set_control()


# ---------------------------------------------------------------------------
# sglang
# ---------------------------------------------------------------------------


def _engine(model=MODEL_NOTOK, **kw):
    import sglang

    kw.setdefault("skip_tokenizer_init", model == MODEL_NOTOK)
    kw.setdefault("random_seed", 0)
    return sglang.Engine(model_path=model, **kw)


def test_sglang_is_the_fake_and_imports():
    import sglang
    from sglang.srt.entrypoints.engine import Engine
    from sglang.srt.sampling.sampling_params import SamplingParams
    from sglang.srt.server_args import ServerArgs
    from sglang.utils import LazyImport

    assert sglang.__enginebench_fake__ is True and sglang.__file__.startswith(HERE)
    assert sglang.__version__ == "0.0.0+fake.0.5.23" and sglang.FAKE_MIMICS_VERSION == "0.5.23"
    assert isinstance(sglang.Engine, LazyImport) and sglang.Engine.__name__ == "Engine"
    assert sglang.Engine._load() is Engine and sglang.ServerArgs._load() is ServerArgs
    assert SamplingParams().max_new_tokens == 128 and SamplingParams().top_k == 1 << 30


def test_sglang_server_args():
    from sglang.srt.server_args import ServerArgs

    assert not dataclasses.is_dataclass(ServerArgs)
    names = ServerArgs.__struct_fields__
    assert len(names) == 546 and names[0] == "model_path"
    assert "cuda_graph_max_bs" not in names
    for n in ("cuda_graph_max_bs_decode", "disable_cuda_graph", "enable_metrics", "disable_radix_cache"):
        assert n in names, n
    sa = ServerArgs(model_path="m")
    expect = {
        "tokenizer_path": None, "skip_tokenizer_init": False, "load_format": "auto", "dtype": "auto",
        "context_length": None, "tp_size": 1, "dp_size": 1, "mem_fraction_static": None,
        "max_running_requests": None, "max_total_tokens": None, "chunked_prefill_size": None,
        "max_prefill_tokens": 16384, "disable_radix_cache": False, "disable_overlap_schedule": False,
        "random_seed": None, "device": None, "log_level": "info", "enable_metrics": False,
        "disable_cuda_graph": False, "attention_backend": None, "sampling_backend": None,
        "schedule_policy": "fcfs", "base_gpu_id": 0, "weight_version": "default",
    }
    for k, v in expect.items():
        assert getattr(sa, k) == v, (k, getattr(sa, k), v)
    _raises(TypeError, lambda: ServerArgs(model_path="m", cuda_graph_max_bs=8), "Unexpected keyword argument 'cuda_graph_max_bs'")
    _raises(TypeError, lambda: ServerArgs(), "Missing required argument 'model_path'")
    assert list(inspect.signature(ServerArgs).parameters)[0] == "model_path"
    _raises(TypeError, lambda: _engine(foo_bar=1), "Unexpected keyword argument 'foo_bar'")


def test_sglang_signatures():
    from sglang.srt.entrypoints.engine import Engine

    p = inspect.signature(Engine.generate).parameters
    assert list(p)[:4] == ["self", "prompt", "sampling_params", "input_ids"]
    assert p["stream"].default is False and p["return_logprob"].default is False
    assert p["cache_salt"].kind is inspect.Parameter.KEYWORD_ONLY
    assert all(x.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD for n, x in p.items() if n not in ("self", "cache_salt"))
    assert list(inspect.signature(Engine.__init__).parameters) == ["self", "kwargs"]


def test_sglang_load_errors():
    _set_control()
    _raises(ValueError, lambda: _engine("/nonexistent/model/dir"), "Repo id must be")
    _raises(OSError, lambda: _engine(EMPTY_DIR))
    _raises(OSError, lambda: _engine(MODEL_NOTOK, skip_tokenizer_init=False), "Can't load tokenizer")
    _raises(ValueError, lambda: _engine(context_length=MAXPOS + 1), "SGLANG_ALLOW_OVERWRITE_LONGER_CONTEXT_LEN")


def test_sglang_generate():
    _set_control()
    e = _engine()
    prompts = [[5, 6, 7], list(range(10, 30)), [1, 2, 3, 4, 5]]
    outs = e.generate(input_ids=prompts, sampling_params={"max_new_tokens": 8, "ignore_eos": True, "temperature": 0})
    assert isinstance(outs, list) and len(outs) == 3
    for o, p in zip(outs, prompts):
        assert set(o) == {"output_ids", "meta_info"}
        assert o["output_ids"] == [_tok(p, i) for i in range(8)]
        m = o["meta_info"]
        for k in ("id", "finish_reason", "prompt_tokens", "weight_version", "num_retractions",
                  "reasoning_tokens", "completion_tokens", "cached_tokens", "e2e_latency"):
            assert k in m, k
        assert m["finish_reason"] == {"type": "length", "length": 8}
        assert m["prompt_tokens"] == len(p) and m["completion_tokens"] == 8 and m["cached_tokens"] == 0
        assert "first_token_latency" not in m
    # a single prompt returns a dict
    one = e.generate(input_ids=[9, 9], sampling_params={"max_new_tokens": 2, "ignore_eos": True})
    assert isinstance(one, dict) and one["output_ids"] == [_tok([9, 9], 0), _tok([9, 9], 1)]
    # list of sampling params, rid prefix
    outs = e.generate(input_ids=[[1, 2], [3, 4]], sampling_params=[{"max_new_tokens": 1}, {"max_new_tokens": 3}], rid="r")
    assert [len(o["output_ids"]) for o in outs] == [1, 3] and [o["meta_info"]["id"] for o in outs] == ["r_0", "r_1"]
    # n > 1 expands per prompt
    outs = e.generate(input_ids=[[1, 2], [3, 4]], sampling_params={"max_new_tokens": 2, "n": 2, "ignore_eos": True})
    assert len(outs) == 4 and outs[1]["output_ids"] == [_tok([1, 2], i, 1) for i in range(2)]
    # default max_new_tokens is 128
    assert len(e.generate(input_ids=[[1, 2]], sampling_params={"ignore_eos": True})[0]["output_ids"]) == 128
    # ... and is clamped (not rejected) near the context length: 64 - 1 - 60 - 1 = 2
    small = _engine(context_length=64)
    o = small.generate(input_ids=[[1] * 57], sampling_params={"ignore_eos": True})[0]
    assert len(o["output_ids"]) == 64 - 1 - 57 - 1 and o["meta_info"]["finish_reason"]["type"] == "length"
    small.shutdown()
    e.shutdown()


def test_sglang_validation():
    _set_control()
    e = _engine(context_length=64)
    _raises(TypeError, lambda: e.generate(input_ids=[[1]], sampling_params={"max_new_token": 1}), "Unexpected keyword argument 'max_new_token'")
    _raises(ValueError, lambda: e.generate(input_ids=[[1]], sampling_params={"min_new_tokens": 1}), "min_new_tokens=1 is unavailable when skip_tokenizer_init=True")
    _raises(ValueError, lambda: e.generate(input_ids=[[1]], sampling_params={"stop": "x"}), "is unavailable when skip_tokenizer_init=True")
    _raises(ValueError, lambda: e.generate(input_ids=[]), "input_ids cannot be empty.")
    _raises(ValueError, lambda: e.generate(), "Either text, input_ids or input_embeds should be provided.")
    _raises(ValueError, lambda: e.generate(prompt="hi"), "cannot accept text prompts")
    _raises(ValueError, lambda: e.generate(input_ids=[[1] * 64]), "is longer than the model's context length (64 tokens)")
    _raises(ValueError, lambda: e.generate(input_ids=[[1] * 10], sampling_params={"max_new_tokens": 55}), "Requested token count exceeds")
    _raises(ValueError, lambda: e.generate(input_ids=[[1] * 60], sampling_params={"max_new_tokens": 1}), "exceeds the maximum allowed length (58 tokens)")
    _raises(ValueError, lambda: e.generate(input_ids=[[1]], sampling_params={"max_new_tokens": -1}), "max_new_tokens must be at least 0")
    _raises(ValueError, lambda: e.generate(input_ids=[[1], [2]], sampling_params=[{"n": 1}, {"n": 2}]), "parallel_sample_num")
    _raises(IndexError, lambda: e.generate(input_ids=[[1], [2]], sampling_params=[{}]))
    # prompt + max_new_tokens near context_len: accepted but silently clamped
    o = e.generate(input_ids=[[1] * 10], sampling_params={"max_new_tokens": 54, "ignore_eos": True})[0]
    assert len(o["output_ids"]) == 52 and o["meta_info"]["finish_reason"] == {"type": "length", "length": 52}
    # with a tokenizer: stop strings, min_new_tokens and text work
    t = _engine(MODEL_TOK)
    o = t.generate(input_ids=[[5, 6]], sampling_params={"max_new_tokens": 3, "min_new_tokens": 1, "ignore_eos": True})[0]
    assert o["text"] == F.fake_text(o["output_ids"]) and len(o["output_ids"]) == 3
    o = t.generate(prompt=["hi"], sampling_params={"max_new_tokens": 2})[0]
    assert o["meta_info"]["prompt_tokens"] == 2
    e.shutdown()
    t.shutdown()


def test_sglang_eos_and_stops():
    p = [7, 8, 9]
    _set_control("sglang", eos_at=3)
    e = _engine()
    o = e.generate(input_ids=[p], sampling_params={"max_new_tokens": 10})[0]
    assert o["output_ids"] == [_tok(p, 0), _tok(p, 1), _tok(p, 2), EOS]
    assert o["meta_info"]["finish_reason"] == {"type": "stop", "matched": EOS}
    o = e.generate(input_ids=[p], sampling_params={"max_new_tokens": 10, "ignore_eos": True})[0]
    assert len(o["output_ids"]) == 10
    _set_control()
    st = _tok(p, 1)
    o = e.generate(input_ids=[p], sampling_params={"max_new_tokens": 10, "stop_token_ids": [st]})[0]
    assert o["output_ids"] == [_tok(p, 0), st] and o["meta_info"]["finish_reason"] == {"type": "stop", "matched": st}
    # in SGLang ignore_eos also disables stop_token_ids
    o = e.generate(input_ids=[p], sampling_params={"max_new_tokens": 10, "stop_token_ids": [st], "ignore_eos": True})[0]
    assert len(o["output_ids"]) == 10
    e.shutdown()


def test_sglang_cache_info_metrics():
    _set_control()
    e = _engine(enable_metrics=True, max_running_requests=7)
    p = list(range(100, 120))
    assert e.generate(input_ids=[p], sampling_params={"max_new_tokens": 2})[0]["meta_info"]["cached_tokens"] == 0
    m = e.generate(input_ids=[p], sampling_params={"max_new_tokens": 2})[0]["meta_info"]
    assert m["cached_tokens"] == 19
    for k in ("request_received_ts", "first_token_latency", "request_finished_ts", "queue_time"):
        assert k in m, k
    fc = e.flush_cache()
    assert fc.success is True
    assert e.generate(input_ids=[p], sampling_params={"max_new_tokens": 2})[0]["meta_info"]["cached_tokens"] == 0
    info = e.get_server_info()
    for k in ("model_path", "tokenizer_path", "max_total_num_tokens", "max_req_input_len", "max_running_requests",
              "internal_states", "version", "launch_command", "startup_time", "random_seed", "mem_fraction_static",
              "chunked_prefill_size", "disable_radix_cache", "enable_metrics"):
        assert k in info, k
    assert info["max_running_requests"] == 7 and info["tokenizer_path"] == MODEL_NOTOK
    assert info["internal_states"][0]["effective_max_running_requests_per_dp"] == 7
    assert info["log_level"] == "error" and info["version"] == "0.0.0+fake.0.5.23"
    assert e.get_all_child_pids() == []
    e.shutdown()
    d = _engine(disable_radix_cache=True)
    d.generate(input_ids=[p], sampling_params={"max_new_tokens": 2})
    assert d.generate(input_ids=[p], sampling_params={"max_new_tokens": 2})[0]["meta_info"]["cached_tokens"] == 0
    info = d.get_server_info()
    assert info["max_running_requests"] is None  # as the real one: the effective value is in internal_states
    assert info["internal_states"][0]["effective_max_running_requests_per_dp"] >= 2048
    d.shutdown()
    _set_control("sglang", kv_cache_tokens=5000)
    k = _engine()
    assert k.get_server_info()["max_total_num_tokens"] == 5000
    k.shutdown()


def test_sglang_misbehaviour():
    _set_control()
    c0 = F.calls_so_far("sglang")
    _set_control("sglang", short={"call": c0 + 1, "requests": 2, "by": 1}, cached={"call": c0 + 2, "tokens": 5},
                 **{"raise": {"call": [c0 + 3]}})
    e = _engine()
    ids = [[1, 2], [3, 4], [5, 6]]
    sp = {"max_new_tokens": 4, "ignore_eos": True}
    outs = e.generate(input_ids=ids, sampling_params=sp)
    assert [len(o["output_ids"]) for o in outs] == [3, 3, 4]
    assert [o["meta_info"]["completion_tokens"] for o in outs] == [3, 3, 4]
    assert [o["meta_info"]["cached_tokens"] for o in e.generate(input_ids=ids, sampling_params=sp)] == [5, 5, 5]
    _raises(RuntimeError, lambda: e.generate(input_ids=ids, sampling_params=sp), "fake sglang failure")
    assert len(e.generate(input_ids=ids, sampling_params=sp)) == 3
    e.shutdown()
    rec = os.path.join(_TMP.name, "sglang-record.jsonl")
    _set_control("sglang", record=rec)
    e = _engine()
    e.generate(input_ids=ids, sampling_params=dict(sp, n=2))
    e.generate(input_ids=[4, 5], sampling_params=sp)
    with open(rec) as f:
        assert [json.loads(line) for line in f] == [ids, [[4, 5]]]
    e.shutdown()
    _set_control("sglang", fail_load="out of memory")
    _raises(RuntimeError, lambda: _engine(), "out of memory")
    c0 = F.calls_so_far("sglang")
    _set_control("sglang", busy={"call": c0 + 1, "seconds": 0.1})
    e = _engine()
    t = time.monotonic()
    e.generate(input_ids=ids, sampling_params=sp)
    assert time.monotonic() - t >= 0.1
    e.shutdown()
    _set_control("sglang", sleep_s=0.05)
    e = _engine()
    t = time.monotonic()
    o = e.generate(input_ids=ids, sampling_params=sp)
    assert time.monotonic() - t >= 0.049 and o[0]["meta_info"]["e2e_latency"] >= 0.049
    e.shutdown()
    _set_control()


# ---------------------------------------------------------------------------


def main() -> int:
    tests = [(n, f) for n, f in sorted(globals().items(), key=lambda kv: kv[1].__code__.co_firstlineno
                                        if callable(kv[1]) and hasattr(kv[1], "__code__") else 0)
             if n.startswith("test_") and callable(f)]
    passed = failed = 0
    for name, fn in tests:
        try:
            fn()
        except Exception:
            failed += 1
            print(f"FAIL {name}")
            traceback.print_exc()
        else:
            passed += 1
            print(f"ok   {name}")
        finally:
            os.environ.pop(F.ENV_VAR, None)
    print(f"python {sys.version.split()[0]}: {passed} passed, {failed} failed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

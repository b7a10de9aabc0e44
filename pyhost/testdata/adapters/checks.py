"""Checks of the engine adapters' pure logic, on the fake engines.

Run by TestAdapterChecks (pyhost/adapters_test.go) with the fake vllm and
sglang packages and the embedded package on sys.path. Each check prints
"ok NAME" or raises; the Go test requires every name.
"""

import json
import os
import sys
import tempfile

from enginebench_host.engines import base
from enginebench_host.engines import sglang as sglang_adapter
from enginebench_host.engines import vllm as vllm_adapter

CHECKS = []


def check(fn):
    CHECKS.append(fn)
    return fn


def cfg(model):
    return {
        "model": model, "dtype": "float32", "seed": 0, "max_model_len": 20, "max_batch_size": 2,
        "input_len": 12, "output_len": 8, "sampling": {"temperature": 0, "top_p": 1, "seed": 0}, "user_args": {},
    }


@check
def missing_params_reads_every_kind_of_constructor():
    class WithKwargs:
        def __init__(self, a=1, **kw):
            pass

    class Plain:
        def __init__(self, a=1, b=2):
            pass

    assert base.missing_params(WithKwargs, ["a", "zzz"]) == [], "a **kwargs constructor takes any name"
    assert base.missing_params(Plain, ["a", "zzz"]) == ["zzz"]
    import vllm

    assert base.missing_params(vllm.SamplingParams, ["max_tokens", "ignore_eos"]) == []


def refused(adapter_module, attr_path, drop, model, want):
    """Replaces a SamplingParams with one lacking drop; the adapter's check
    must refuse, naming it."""
    mod_name, attr = attr_path
    mod = sys.modules[mod_name]
    real = getattr(mod, attr)

    class Lacking:
        def __init__(self, **kw):
            pass

    fields = [f for f in base.field_names(real) if f != drop]
    Lacking.__init__ = eval("lambda self, *, %s: None" % ", ".join(f + "=None" for f in fields))  # noqa: S307
    setattr(mod, attr, Lacking)
    try:
        adapter_module.check(cfg(model))
    except base.ConfigError as e:
        msg = str(e)
        assert drop in msg and want in msg, msg
    else:
        raise AssertionError(f"a SamplingParams without {drop} was accepted")
    finally:
        setattr(mod, attr, real)


@check
def vllm_refuses_a_sampling_params_without_ignore_eos():
    import vllm  # noqa: F401

    refused(vllm_adapter, ("vllm", "SamplingParams"), "ignore_eos", MODEL, "which the measurement depends on")


@check
def sglang_refuses_a_sampling_params_without_max_new_tokens():
    import sglang.srt.sampling.sampling_params  # noqa: F401

    refused(sglang_adapter, ("sglang.srt.sampling.sampling_params", "SamplingParams"), "max_new_tokens", MODEL,
            "which the measurement depends on")


@check
def sglang_answers_name_their_prompts_by_request_id():
    assert sglang_adapter._index_of_rid("eb3-17") == 17
    assert sglang_adapter._index_of_rid("eb12-0") == 0
    for bad in (None, "", "17", "x3-17", "eb3-", "eb3-x"):
        assert sglang_adapter._index_of_rid(bad) == -1, bad


@check
def the_adapter_reads_the_workload_file_and_hashes_what_it_holds():
    a = vllm_adapter.check.__self__
    prompts = [[1, 2, 3], [4, 5, 6]]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "workload.json")
        with open(path, "w") as f:
            json.dump({"version": 1, "prompts": prompts}, f)
        held = a.set_workload({"path": path, "sha256": "", "input_len": 3, "output_len": 2})
    assert held == {"count": 2, "sha256": base.workload_sha256(prompts)}, held
    assert a.index_of_prompt([4, 5, 6]) == 1 and a.index_of_prompt([9]) == -1


@check
def a_program_workload_hashes_its_source_and_arguments_as_go_does():
    # The vector of offline/workload's TestHashProgramVector.
    assert base.program_sha256("\u00e9\n", ['{"q":"a"}', "{}"]) == "173bdeabbf8f76cc4a5f8e86f245f933103f92faee58b770dff0a84d2036bb9b"


@check
def a_sharegpt_workload_varies_in_length_and_hashes_its_output_lengths():
    # The vector of offline/workload's HashWithOutputs test.
    assert base.workload_sha256([[0, 1, 2], [128255, 7]], [3, 5]) == "76786c9876086ba0097d6627898b023642b6bdea4bb40be60647cb48b11c1a44"
    assert base.workload_sha256([[0, 1, 2], [128255, 7]]) == "dbc04cc7c9c80927a50078f6cd5de83e9b3209804a76dc14b039196cde31405c"
    a = vllm_adapter.check.__self__
    prompts = [[1, 2, 3], [4, 5]]
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "workload.json")
        with open(path, "w") as f:
            json.dump({"version": 2, "spec": {"dataset": "sharegpt"}, "output_lens": [4, 1], "prompts": prompts}, f)
        held = a.set_workload({"path": path, "sha256": "", "input_len": 3, "output_len": 4})
        assert held == {"count": 2, "sha256": base.workload_sha256(prompts, [4, 1])}, held
        assert a.output_len_of(0) == 4 and a.output_len_of(1) == 1
        # A fixed-length workload still wants every prompt at input_len.
        with open(path, "w") as f:
            json.dump({"version": 1, "prompts": prompts}, f)
        try:
            a.set_workload({"path": path, "sha256": "", "input_len": 3, "output_len": 4})
        except ValueError as exc:
            assert "prompt 1 has 2 tokens, want 3" in str(exc), exc
        else:
            raise AssertionError("a short prompt of a fixed-length workload was accepted")


if __name__ == "__main__":
    MODEL = sys.argv[1]
    for fn in CHECKS:
        fn()
        print("ok", fn.__name__)

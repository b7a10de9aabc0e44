"""Runs example programs through the in-process frontend backends on a real
engine (the CPU tier): python real.py ENGINE MODEL PROGRAM... prints one line
"RESULT <json>" per program (engines log to stdout too) and exits 1 when a
program failed or a check did not pass. PYTHONPATH must hold enginebench's
embedded package (pyhost/py)."""

import json
import sys

from enginebench_host import frontend


def sglang_engine(model):
    import sglang

    return sglang.Engine(model_path=model, device="cpu", attention_backend="torch_native", disable_cuda_graph=True,
                         dtype="bfloat16", random_seed=0, context_length=1024, max_running_requests=8,
                         max_total_tokens=8 * 1024, log_level="error",
                         # Compact JSON under a schema, as the vLLM backend asks per request.
                         constrained_json_disable_any_whitespace=True)


def vllm_engine(model):
    from vllm.engine.arg_utils import AsyncEngineArgs
    from vllm.v1.engine.async_llm import AsyncLLM

    from vllm.config import StructuredOutputsConfig

    # Compact JSON under a schema, as the SGLang engine above (vLLM reads it
    # per engine, as the enginebench adapter sets it).
    so = StructuredOutputsConfig(backend="xgrammar", disable_any_whitespace=True)
    return AsyncLLM.from_engine_args(AsyncEngineArgs(model=model, max_model_len=1024, dtype="bfloat16", seed=0, enforce_eager=True, max_num_seqs=8,
                                                     structured_outputs_config=so))


def main():
    engine_name, model, programs = sys.argv[1], sys.argv[2], sys.argv[3:]
    if engine_name == "sglang":
        engine = sglang_engine(model)
        backend = frontend.make_sglang_backend(engine, model)
    else:
        from transformers import AutoTokenizer

        engine = vllm_engine(model)
        backend = frontend.make_vllm_backend(engine, model, AutoTokenizer.from_pretrained(model))
    failed = 0
    try:
        for path in programs:
            program, _, check = frontend.load_program(path)
            args = frontend.make_arguments(path, 4, 0)
            res = frontend.run_batch(program, args, backend, check)
            bad = [r for r in res["records"] if r["error"] or r["valid"] is False]
            failed += bool(bad) or res["output_tokens"] <= 0
            res["program"] = path.rsplit("/", 1)[-1]
            print("RESULT " + json.dumps(res), flush=True)
    finally:
        backend.shutdown()
        engine.shutdown()
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

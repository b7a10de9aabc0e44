"""The frontend backends (enginebench_host.frontend) on fake engines: SGLang's
real frontend language drives them, the engines are test doubles that answer
at once, so no model loads. Covers counting, forks (their errors and answers
count for their program), select scoring, constrained gens' parameters, a
check that raises, and the dry run that finds a program's features. Run with
a python that has SGLang's frontend (either CPU-tier venv); PYTHONPATH =
pyhost/py. Prints one line per check and exits 1 when one failed."""

import asyncio
import sys
import traceback
from types import SimpleNamespace

from enginebench_host import frontend

frontend.import_frontend()  # the vLLM venv has no triton: see import_frontend

import sglang as sgl  # noqa: E402

CHOICES = ["red", "green", "blue"]


@sgl.function
def forked(s, topic):
    s += f"About {topic}.\n"
    forks = s.fork(2)
    for i, f in enumerate(forks):
        f += f"Thought {i + 1}: " + sgl.gen("thought", max_tokens=4, stop="\n")
    forks.join()
    s += "Colour: " + sgl.select("colour", choices=CHOICES)


@sgl.function
def constrained(s, q):
    s += q + sgl.gen("answer", max_tokens=8, regex=r"[0-9]+")


# --- a fake vLLM AsyncLLM ---------------------------------------------------

class FakeTokenizer:
    """One token per character, so a choice's tokens are its characters."""

    def __call__(self, text):
        return {"input_ids": [ord(c) for c in text]}


class FakeAsyncLLM:
    """Answers every gen with "ok" (2 tokens); fails a prompt holding
    `fail_on`; gives each choice's tokens the logprob `weights[choice]`."""

    def __init__(self, fail_on=None, weights=None):
        self.fail_on, self.weights, self.params = fail_on, weights or {}, []

    async def generate(self, prompt, params, request_id):
        self.params.append(params)
        await asyncio.sleep(0.001)
        if "prompt" in prompt:
            if self.fail_on and self.fail_on in prompt["prompt"]:
                raise RuntimeError(f"fake engine refuses {self.fail_on!r}")
            comp = SimpleNamespace(text="ok", token_ids=[1, 2], finish_reason="stop")
            yield SimpleNamespace(outputs=[comp], prompt_token_ids=[0] * len(prompt["prompt"]), request_id=request_id, prompt_logprobs=None)
            return
        ids = prompt["prompt_token_ids"]
        text = "".join(chr(i) for i in ids)
        score = next((w for c, w in self.weights.items() if text.endswith(c)), -5.0)
        lps = [None] + [{t: SimpleNamespace(logprob=score)} for t in ids[1:]]
        comp = SimpleNamespace(text="", token_ids=[1], finish_reason="length")
        yield SimpleNamespace(outputs=[comp], prompt_token_ids=ids, request_id=request_id, prompt_logprobs=lps)


# --- a fake sglang.Engine -----------------------------------------------------

class FakeTokenizerManager:
    def __init__(self, weights):
        self.weights = weights

    async def generate_request(self, obj, request):
        await asyncio.sleep(0.001)
        texts = obj.text if isinstance(obj.text, list) else [obj.text]
        out = []
        for text in texts:
            score = next((w for c, w in self.weights.items() if text.endswith(c)), -5.0)
            ids = [ord(c) for c in text]
            meta = {"prompt_tokens": len(ids), "completion_tokens": 3, "id": "x",
                    "input_token_logprobs": [(score, t, chr(t)) for t in ids[-4:]], "output_token_logprobs": []}
            out.append({"text": "abc", "meta_info": meta})
        yield out if isinstance(obj.text, list) else out[0]


class FakeEngine:
    def __init__(self, weights=None):
        self.loop = asyncio.new_event_loop()
        self.tokenizer_manager = FakeTokenizerManager(weights or {})


# --- checks -------------------------------------------------------------------

failed = 0


def check(fn):
    global failed
    try:
        fn()
        print(f"ok {fn.__name__}")
    except Exception:  # noqa: BLE001 - report and go on
        failed += 1
        print(f"FAIL {fn.__name__}\n{traceback.format_exc()}")
    return fn


def vllm_backend(**kw):
    return frontend.make_vllm_backend(FakeAsyncLLM(**kw), "fake-model", FakeTokenizer(), chat_template="default")


@check
def forks_count_every_gen_and_the_select_picks_the_best_scored_choice():
    b = vllm_backend(weights={"green": -0.1, "red": -3.0, "blue": -4.0})
    try:
        res = frontend.run_batch(forked, [{"topic": f"t{i}"} for i in range(3)], b, check=lambda st: st["colour"] == "green")
    finally:
        b.shutdown()
    assert res["programs"] == 3 and res["gen_calls"] == 6 and res["select_calls"] == 3, res
    assert res["output_tokens"] == 6 * 2, res
    for rec in res["records"]:
        assert rec["error"] is None and rec["valid"] is True and rec["latency_s"] > 0, rec


@check
def an_error_in_a_forked_stream_fails_its_program_only():
    b = vllm_backend(fail_on="t1.\nThought 2")
    try:
        res = frontend.run_batch(forked, [{"topic": f"t{i}"} for i in range(3)], b)
    finally:
        b.shutdown()
    errors = [bool(r["error"]) for r in res["records"]]
    assert errors == [False, True, False], res["records"]
    assert "fake engine refuses" in res["records"][1]["error"], res["records"][1]["error"]


@check
def a_check_that_raises_counts_the_program_not_valid():
    b = vllm_backend()
    try:
        res = frontend.run_batch(constrained, [{"q": "n?"}], b, check=lambda st: 1 / 0)
    finally:
        b.shutdown()
    rec = res["records"][0]
    assert rec["valid"] is False and "ZeroDivisionError" in rec["check_error"] and rec["error"] is None, rec


@check
def checks_run_after_the_timed_part():
    calls = []
    b = vllm_backend()
    try:
        batch = frontend.run_programs(constrained, [{"q": "a"}, {"q": "b"}], b)
        assert calls == [] and batch["wall_s"] > 0, batch
        res = frontend.outcome(batch, b, check=lambda st: calls.append(st) or True)
    finally:
        b.shutdown()
    assert len(calls) == 2 and [r["valid"] for r in res["records"]] == [True, True], res


@check
def a_constrained_gen_reaches_vllm_as_structured_outputs():
    engine = FakeAsyncLLM()
    b = frontend.make_vllm_backend(engine, "fake-model", FakeTokenizer(), chat_template="default")
    try:
        frontend.run_batch(constrained, [{"q": "n?"}], b, sampling={"temperature": 0.5, "top_p": 0.9})
    finally:
        b.shutdown()
    sp = engine.params[-1]
    assert sp.structured_outputs is not None and sp.structured_outputs.regex == r"[0-9]+", sp
    assert sp.max_tokens == 8 and sp.temperature == 0.5 and abs(sp.top_p - 0.9) < 1e-9, sp


@check
def the_sglang_backend_counts_and_selects_on_its_engine_loop():
    try:
        import sglang.srt.managers.io_struct  # noqa: F401
    except ImportError as exc:
        # The vLLM venv holds SGLang's frontend without its engine.
        print(f"skip (SGLang's engine is not installed here: {exc})")
        return
    b = frontend.make_sglang_backend(FakeEngine(weights={"blue": -0.1}), "fake-model", chat_template="default")
    try:
        res = frontend.run_batch(forked, [{"topic": "t"}], b)
    finally:
        b.shutdown()
    assert res["gen_calls"] == 2 and res["select_calls"] == 1 and res["output_tokens"] == 6, res
    assert res["records"][0]["error"] is None, res["records"]


@check
def the_dry_run_finds_constrained_gens_and_selects():
    assert frontend.program_features(constrained, [{"q": "x"}]) == ["constrained"]
    assert frontend.program_features(forked, [{"topic": "x"}]) == ["select"]


@check
def arguments_are_canonical_json():
    assert frontend.canonical_json({"b": 1, "a": "é"}) == '{"a":"é","b":1}'


sys.exit(1 if failed else 0)

"""SGLang's frontend language in-process: `@sgl.function` programs run with
`program.run_batch(...)` against an engine in this process, with no HTTP.

SGLang can only run its programs against a server (RuntimeEndpoint). The two
backends here implement its BaseBackend over in-process engines instead:
SGLangEngineBackend over `sglang.Engine`, VLLMEngineBackend over vLLM's
asynchronous in-process engine (AsyncLLM), so one program can be compared on
both engines. Both

  * take every call from run_batch's threads and run it on one event-loop
    thread per engine (the engines' asyncio APIs are not thread-safe);
  * render chat roles with one chat template of SGLang's frontend registry,
    chosen by the model path (recorded as `chat_template`), so both engines
    see the very same text;
  * score `select` choices by the logprobs of the prompt continued by each
    choice, as RuntimeEndpoint.select does (token healing included);
  * count every gen's completion tokens as the engine reported them.

`enginebench run --program` drives them through the engine adapters'
program mode (engines/base.py): the arguments are made once, before any
engine loads (write_arguments), and every engine runs exactly those.
"""

from __future__ import annotations

import asyncio
import importlib.util
import os
import threading
import time
import traceback
import uuid

from .engines.base import ConfigError


def import_frontend():
    """Imports SGLang's frontend language. In a venv without triton (the vLLM
    CPU tier: no triton on purpose), `import sglang` still needs the name:
    sglang/srt/utils/common.py imports it at the top and decorates a few
    kernels with triton.jit, none of which the frontend runs. vLLM's own
    TritonPlaceholder stands in for it during the import and is removed
    afterwards, so torch and vLLM in this process still see no triton."""
    import sys

    if "sglang.lang.ir" in sys.modules:
        return
    placeholder = None
    if importlib.util.find_spec("triton") is None:
        try:
            from vllm.triton_utils.importing import TritonPlaceholder
        except ImportError:
            TritonPlaceholder = None
        if TritonPlaceholder is not None:
            placeholder = TritonPlaceholder()
            sys.modules["triton"] = placeholder
            sys.modules["triton.language"] = placeholder.language
    try:
        import sglang  # noqa: F401
        import sglang.lang.backend.runtime_endpoint  # noqa: F401
        import sglang.lang.chat_template  # noqa: F401
        import sglang.lang.ir  # noqa: F401
    except ImportError as exc:
        raise ConfigError(f"cannot import SGLang's frontend language here ({exc}): a --program run needs the sglang package "
                          "in every engine's python (the CPU tier's venvs have it: make setup)") from exc
    finally:
        if placeholder is not None:
            for name in [n for n in sys.modules if n == "triton" or n.startswith("triton.")]:
                if sys.modules[name] is placeholder or sys.modules[name] is placeholder.language:
                    del sys.modules[name]


# --- the program file -------------------------------------------------------

def load_program(path, source=None):
    """Imports a program file and returns (program, arguments, check).
    With source, the file's text as the workload file holds it is run
    instead of reading path (path then only names it in messages and
    tracebacks).

    A file must define `program`, a function decorated with
    `sglang.function`, and `arguments(n, seed)`, returning n dicts of
    keyword arguments for it; `check(state)`, optional, says whether one
    program's result is valid. Each problem raises ConfigError naming the
    fix."""
    import types

    if source is None:
        if not os.path.isfile(path):
            raise ConfigError(f"--program {path}: no such file")
        with open(path, encoding="utf-8", newline="") as f:  # bytes as Go hashes them
            source = f.read()
    import_frontend()
    module = types.ModuleType("enginebench_program")
    module.__file__ = path
    try:
        code = compile(source, path, "exec")
        exec(code, module.__dict__)  # noqa: S102 - the user's program file, run as Python runs it
    except SyntaxError as exc:
        raise ConfigError(f"--program {path}: syntax error at line {exc.lineno}: {exc.msg}") from exc
    except Exception as exc:  # noqa: BLE001 - any import failure is the file's
        raise ConfigError(f"--program {path}: importing it raised {type(exc).__name__}: {exc}") from exc
    from sglang.lang.ir import SglFunction

    program = getattr(module, "program", None)
    if program is None:
        raise ConfigError(f"--program {path} defines no `program`: define the function to run, decorated with @sglang.function")
    if not isinstance(program, SglFunction):
        raise ConfigError(f"--program {path}: `program` is a {type(program).__name__}, not an SGLang program: decorate it with @sglang.function")
    arguments = getattr(module, "arguments", None)
    if not callable(arguments):
        raise ConfigError(f"--program {path} defines no `arguments(n, seed)`: define it to return n dicts of keyword arguments for `program`")
    check = getattr(module, "check", None)
    if check is not None and not callable(check):
        raise ConfigError(f"--program {path}: `check` is a {type(check).__name__}; make it a function of one program's state, or drop it")
    return program, arguments, check


def make_arguments(path, n, seed, source=None):
    """The n argument dicts the file's `arguments(n, seed)` gives, checked:
    a list of n dicts whose keys are the program's parameters and whose
    values survive JSON (the workload file stores them). source: as for
    load_program."""
    import json

    program, arguments, _ = load_program(path, source)
    try:
        got = arguments(n, seed)
    except Exception as exc:  # noqa: BLE001
        raise ConfigError(f"--program {path}: arguments({n}, {seed}) raised {type(exc).__name__}: {exc}") from exc
    if not isinstance(got, (list, tuple)) or not all(isinstance(a, dict) for a in got):
        raise ConfigError(f"--program {path}: arguments({n}, {seed}) returned a {type(got).__name__}; return a list of {n} dicts")
    if len(got) != n:
        raise ConfigError(f"--program {path}: arguments({n}, {seed}) returned {len(got)} dicts, want {n}")
    params = set(program.arg_names) - {"s"}
    for i, a in enumerate(got):
        unknown = sorted(set(a) - params)
        if unknown:
            raise ConfigError(f"--program {path}: arguments entry {i} has {unknown}, which `program` does not take (it takes {sorted(params)})")
        try:
            json.dumps(a)
        except (TypeError, ValueError) as exc:
            raise ConfigError(f"--program {path}: arguments entry {i} is not JSON-able ({exc}): use strings, numbers, lists and dicts") from exc
    return [dict(a) for a in got]


def canonical_json(value):
    """One argument dict as the workload file stores and hashes it."""
    import json

    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def program_features(program, arguments):
    """What a program asks of an engine, found by a dry run with its first
    argument dict on a backend that answers every gen with empty text and
    every select with its first choice (SGLang's own tracer cannot follow a
    fork's join): "constrained" (a gen with a regex or a JSON schema) and
    "select" (choices scored by logprobs). A program whose control flow
    depends on what it generates may take another path on an engine; a dry
    run that raises gives None, and an engine that lacks a feature then
    fails per program instead of in the pre-flight."""
    from sglang.lang.choices import ChoicesDecision

    found = set()

    class DryRun(_base()):
        def __init__(self):
            super().__init__()
            self.support_concate_and_append = False

        def generate(self, s, sampling_params):
            if getattr(sampling_params, "regex", None) is not None or getattr(sampling_params, "json_schema", None) is not None:
                found.add("constrained")
            return "", {"prompt_tokens": 0, "completion_tokens": 0, "finish_reason": {"type": "stop"}}

        def select(self, s, choices, temperature, choices_method):
            found.add("select")
            return ChoicesDecision(decision=choices[0], meta_info={})

    try:
        state = program.run(backend=DryRun(), **(dict(arguments[0]) if arguments else {}))
        state.sync()
        if state.error() is not None:
            return None
    except Exception:  # noqa: BLE001 - the dry run is best effort
        return None
    return sorted(found)


def write_arguments(arg):
    """The once-per-run step of a --program run, in a short-lived process:
    reads the program file arg["program"], makes arg["n"] argument dicts with
    arg["seed"], and writes {"source": the file's text, "arguments": [each
    dict as canonical JSON text], "features": [...] or null} to arg["out"].
    Every engine then runs exactly these arguments."""
    import json

    path = arg["program"]
    if not os.path.isfile(path):
        raise ConfigError(f"--program {path}: no such file")
    # Read once: the text hashed is the text that made the arguments.
    with open(path, encoding="utf-8", newline="") as f:  # bytes as Go hashes them
        source = f.read()
    program, _, _ = load_program(path, source)
    args = make_arguments(path, int(arg["n"]), int(arg["seed"]), source)
    doc = {"source": source, "arguments": [canonical_json(a) for a in args], "features": program_features(program, args)}
    with open(arg["out"], "w", encoding="utf-8") as f:
        json.dump(doc, f)
    return {"count": len(args)}


# --- running a batch --------------------------------------------------------

def run_programs(program, batch_arguments, backend, sampling=None):
    """The timed part of a batch: one run_batch call with
    len(batch_arguments) programs on as many threads, all at once, then a
    wait for every program (run_batch itself waits for the last one only).
    Nothing else: checks and records are made afterwards (outcome)."""
    backend.reset_counts()
    n = len(batch_arguments)
    start = time.perf_counter()
    states = program.run_batch(batch_arguments, backend=backend, num_threads=max(n, 1), progress_bar=False, **(sampling or {}))
    raised = []
    for st in states:
        try:
            st.sync()
            raised.append(None)
        except Exception as exc:  # noqa: BLE001 - the program's, recorded in outcome
            raised.append(exc)
    return {"states": states, "raised": raised, "start": start, "wall_s": time.perf_counter() - start}


def outcome(batch, backend, check=None):
    """What a batch of run_programs gave, outside any timing: the counts
    and one record per program: latency (from the batch's start to the
    program's last engine answer, forks included), whether check() passed
    (None without a check), and the error with its traceback where the
    program raised."""
    records = []
    for st, exc in zip(batch["states"], batch["raised"]):
        # A forked stream's error reaches no state: the backend kept it.
        err = exc or st.error() or backend.error_of(st.stream_executor)
        rec = {"latency_s": backend.last_answer(st.stream_executor, batch["start"]), "valid": None, "error": None}
        if err is not None:
            rec["error"] = "".join(traceback.format_exception(type(err), err, err.__traceback__)) if isinstance(err, BaseException) else str(err)
        elif check is not None:
            try:
                rec["valid"] = bool(check(st))
            except Exception as exc:  # noqa: BLE001 - a check that raises counts as invalid, flagged
                rec["valid"] = False
                rec["check_error"] = f"{type(exc).__name__}: {exc}"
        records.append(rec)
    return {"programs": len(records), "wall_s": batch["wall_s"], **backend.counts(), "records": records}


def run_batch(program, batch_arguments, backend, check=None, sampling=None):
    """run_programs then outcome: one batch and what it gave."""
    return outcome(run_programs(program, batch_arguments, backend, sampling), backend, check)


# --- the backends -----------------------------------------------------------

def _base():
    import_frontend()
    from sglang.lang.backend.base_backend import BaseBackend

    return BaseBackend


class _LoopThread:
    """One asyncio event loop running forever in a thread of its own; calls
    from any thread submit coroutines to it and wait."""

    def __init__(self, loop=None):
        self.loop = loop or asyncio.new_event_loop()
        self._lock = threading.Lock()
        self._in_flight = set()
        self.thread = threading.Thread(target=self._run, name="enginebench-frontend-loop", daemon=True)
        self.thread.start()

    def _run(self):
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def call(self, coro):
        fut = asyncio.run_coroutine_threadsafe(coro, self.loop)
        with self._lock:
            self._in_flight.add(fut)
        try:
            return fut.result()
        finally:
            with self._lock:
                self._in_flight.discard(fut)

    def stop(self, timeout=30):
        # Drain the requests in flight first (a request left running when
        # the loop stops hangs the process at exit); the engine's own
        # background tasks on its loop run until the engine shuts down.
        import concurrent.futures

        with self._lock:
            pending = list(self._in_flight)
        if pending:
            concurrent.futures.wait(pending, timeout=timeout)
        if self.loop.is_running():
            self.loop.call_soon_threadsafe(self.loop.stop)
            self.thread.join(timeout=timeout)


def _normalized_logprob(token_logprobs):
    values = [x[0] for x in token_logprobs if x[0]]
    return sum(values) / len(values) if values else 0.0


def _program_key(s):
    """What identifies one program across its streams: a fork's streams
    share the program's arguments dict (StreamExecutor.fork passes it on)."""
    return id(s.arguments)


class _Counting:
    """The per-batch counts both backends keep: completion tokens and calls,
    each program's last answer over all its streams (forks included), and
    the first error of each program's calls, under one lock (calls come from
    run_batch's threads). SGLang's interpreter only warns about an error in a
    forked stream; recording it here is how such a program counts as
    failed."""

    def _init_counts(self):
        self._lock = threading.Lock()
        self.reset_counts()

    def reset_counts(self):
        with self._lock:
            self._output_tokens = 0
            self._gen_calls = 0
            self._select_calls = 0
            self._last = {}
            self._errors = {}

    def _record(self, s, output_tokens=0, gen=False, select=False):
        with self._lock:
            self._output_tokens += int(output_tokens)
            self._gen_calls += int(gen)
            self._select_calls += int(select)
            self._last[_program_key(s)] = time.perf_counter()

    def _guarded(self, s, call, *args):
        try:
            return call(s, *args)
        except Exception as exc:
            with self._lock:
                self._errors.setdefault(_program_key(s), exc)
            raise

    def counts(self):
        with self._lock:
            return {"output_tokens": self._output_tokens, "gen_calls": self._gen_calls, "select_calls": self._select_calls}

    def last_answer(self, s, start):
        with self._lock:
            t = self._last.get(_program_key(s))
        return None if t is None else t - start

    def error_of(self, s):
        """The first exception a call of s's program raised, or None."""
        with self._lock:
            return self._errors.get(_program_key(s))

    def generate(self, s, sampling_params):
        return self._guarded(s, self._generate, sampling_params)

    def select(self, s, choices, temperature, choices_method):
        return self._guarded(s, self._select, choices, temperature, choices_method)


def make_sglang_backend(engine, model_path, chat_template=None):
    """A BaseBackend over a loaded sglang.Engine (built with its tokenizer:
    the frontend works on text)."""
    import_frontend()
    from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint
    from sglang.lang.chat_template import get_chat_template, get_chat_template_by_model_path
    from sglang.lang.global_config import global_config
    from sglang.srt.managers.io_struct import GenerateReqInput

    class SGLangEngineBackend(_Counting, _base()):
        def __init__(self):
            super().__init__()
            self.support_concate_and_append = False
            self.engine = engine
            self.model_path = model_path
            self.chat_template = get_chat_template(chat_template) if chat_template else get_chat_template_by_model_path(model_path)
            self._init_counts()
            # The engine's own loop: its tokenizer manager's tasks live on it.
            self.loop = _LoopThread(engine.loop)

        def get_model_name(self):
            return self.model_path

        def _request(self, **kw):
            async def one():
                obj = GenerateReqInput(**kw)
                return await self.engine.tokenizer_manager.generate_request(obj, None).__anext__()

            return self.loop.call(one())

        def _generate(self, s, sampling_params):
            RuntimeEndpoint._handle_dtype_to_regex(self, sampling_params)
            params = {
                "skip_special_tokens": global_config.skip_special_tokens_in_output,
                "spaces_between_special_tokens": global_config.spaces_between_special_tokens_in_out,
                **sampling_params.to_srt_kwargs(),
            }
            kw = {"text": s.text_, "sampling_params": params}
            for item in ("return_logprob", "logprob_start_len", "top_logprobs_num", "return_text_in_logprobs"):
                value = getattr(sampling_params, item, None)
                if value is not None:
                    kw[item] = value
            obj = self._request(**kw)
            meta = obj["meta_info"]
            self._record(s, meta.get("completion_tokens", 0), gen=True)
            return obj["text"], meta

        def _select(self, s, choices, temperature, choices_method):
            from sglang.lang.choices import ChoicesDecision  # noqa: F401 - the method returns one

            obj = self._request(text=s.text_, sampling_params={"max_new_tokens": 0})
            prompt_len = obj["meta_info"]["prompt_tokens"]
            start = max(prompt_len - 2, 0)  # token healing, as RuntimeEndpoint
            objs = self._request(text=[s.text_ + c for c in choices], sampling_params={"max_new_tokens": 0, "temperature": 0},
                                 return_logprob=True, return_text_in_logprobs=True, logprob_start_len=start)
            inputs = [o["meta_info"]["input_token_logprobs"] for o in objs]
            outputs = [o["meta_info"]["output_token_logprobs"] for o in objs]
            normalized = [_normalized_logprob(x) for x in inputs]
            for i in range(len(inputs)):
                healed = inputs[i][0][-1]
                if healed is not None and s.text_.endswith(healed) and len(inputs[i]) > 1:
                    normalized[i] = (normalized[i] * len(inputs[i]) - (inputs[i][0][0] or 0)) / (len(inputs[i]) - 1)
                    inputs[i] = inputs[i][1:]
            unconditional = None
            if choices_method.requires_unconditional_logprobs:
                ids = [[el[1] for el in sub] for sub in inputs]
                objs = self._request(input_ids=ids, sampling_params={"max_new_tokens": 0}, return_logprob=True)
                unconditional = [o["meta_info"]["input_token_logprobs"] for o in objs]
            self._record(s, select=True)
            return choices_method(choices=choices, normalized_prompt_logprobs=normalized, input_token_logprobs=inputs,
                                  output_token_logprobs=outputs, unconditional_token_logprobs=unconditional)

        def shutdown(self):
            self.loop.stop()

    return SGLangEngineBackend()


def make_vllm_backend(engine, model_path, tokenizer, chat_template=None):
    """A BaseBackend over vLLM's AsyncLLM. tokenizer encodes the choices of a
    select, to score each choice's own tokens."""
    import_frontend()
    from sglang.lang.backend.runtime_endpoint import RuntimeEndpoint
    from sglang.lang.chat_template import get_chat_template, get_chat_template_by_model_path
    from vllm import SamplingParams

    try:
        from vllm.sampling_params import StructuredOutputsParams
    except ImportError:  # older vLLM
        StructuredOutputsParams = None

    class VLLMEngineBackend(_Counting, _base()):
        def __init__(self):
            super().__init__()
            self.support_concate_and_append = False
            self.engine = engine
            self.model_path = model_path
            self.tokenizer = tokenizer
            self.chat_template = get_chat_template(chat_template) if chat_template else get_chat_template_by_model_path(model_path)
            self._init_counts()
            self.loop = _LoopThread()

        def get_model_name(self):
            return self.model_path

        def _final(self, prompt, params):
            async def one():
                last = None
                async for out in self.engine.generate(prompt, params, request_id=f"eb-{uuid.uuid4().hex}"):
                    last = out
                return last

            return self.loop.call(one())

        def _generate(self, s, sp):
            RuntimeEndpoint._handle_dtype_to_regex(self, sp)
            kw = dict(max_tokens=sp.max_new_tokens, min_tokens=sp.min_new_tokens, temperature=sp.temperature, top_p=sp.top_p,
                      top_k=sp.top_k if sp.top_k and sp.top_k > 0 else 0, min_p=sp.min_p, frequency_penalty=sp.frequency_penalty,
                      presence_penalty=sp.presence_penalty, ignore_eos=sp.ignore_eos,
                      stop=list(sp.stop) if isinstance(sp.stop, (list, tuple)) else ([sp.stop] if sp.stop else None),
                      stop_token_ids=list(sp.stop_token_ids or []) or None)
            if sp.regex is not None or sp.json_schema is not None:
                if StructuredOutputsParams is None:
                    raise ConfigError("this vLLM has no structured outputs (vllm.sampling_params.StructuredOutputsParams): constrained gen needs vLLM >= 0.11")
                # Compact JSON, as SGLang gives with
                # constrained_json_disable_any_whitespace: the same grammar
                # on both engines.
                kw["structured_outputs"] = (StructuredOutputsParams(regex=sp.regex) if sp.regex is not None
                                            else StructuredOutputsParams(json=sp.json_schema, disable_any_whitespace=True))
            out = self._final({"prompt": s.text_}, SamplingParams(**kw))
            comp = out.outputs[0]
            meta = {"prompt_tokens": len(out.prompt_token_ids or []), "completion_tokens": len(comp.token_ids),
                    "finish_reason": {"type": str(comp.finish_reason or "")}, "id": out.request_id}
            self._record(s, len(comp.token_ids), gen=True)
            return comp.text, meta

        def _select(self, s, choices, temperature, choices_method):
            # Each choice's tokens are scored by their logprobs given the
            # prompt, as RuntimeEndpoint does; vLLM has no token healing, so
            # the prompt's own tokens are left out.
            prompt_ids = self.tokenizer(s.text_)["input_ids"]
            inputs, normalized = [], []
            for c in choices:
                full = self.tokenizer(s.text_ + c)["input_ids"]
                keep = len(full) - next((i for i, (a, b) in enumerate(zip(full, prompt_ids)) if a != b), min(len(full), len(prompt_ids)))
                out = self._final({"prompt_token_ids": full}, SamplingParams(max_tokens=1, temperature=0, prompt_logprobs=0))
                lps = out.prompt_logprobs[-keep:] if keep > 0 else []
                tok = full[-keep:] if keep > 0 else []
                pairs = [(lp[t].logprob if lp and t in lp else None, t, None) for lp, t in zip(lps, tok)]
                inputs.append(pairs)
                normalized.append(_normalized_logprob(pairs))
            unconditional = None
            if choices_method.requires_unconditional_logprobs:
                unconditional = []
                for pairs in inputs:
                    ids = [t for _, t, _ in pairs]
                    out = self._final({"prompt_token_ids": ids}, SamplingParams(max_tokens=1, temperature=0, prompt_logprobs=0))
                    unconditional.append([(lp[t].logprob if lp and t in lp else None, t, None) for lp, t in zip(out.prompt_logprobs, ids)])
            self._record(s, select=True)
            return choices_method(choices=choices, normalized_prompt_logprobs=normalized, input_token_logprobs=inputs,
                                  output_token_logprobs=[[] for _ in choices], unconditional_token_logprobs=unconditional)

        def shutdown(self):
            self.loop.stop()

    return VLLMEngineBackend()

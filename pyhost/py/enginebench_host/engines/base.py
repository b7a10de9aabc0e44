"""The adapter protocol shared by every engine module."""

import abc
import difflib
import hashlib
import json
import struct
import sys
import time


class ConfigError(Exception):
    """The engine's arguments or environment are wrong; the message says how
    to fix them. The Go side reports it as bad input, not as an engine
    failure."""


def workload_sha256(prompts, output_lens=None):
    """Recomputes the workload hash exactly as the Go side defines it
    (offline/workload.HashWithOutputs), from the very lists handed to the
    engine: the prompts, then the per-request output lengths where the
    workload has them (reference output lengths)."""
    h = hashlib.sha256(b"enginebench/workload/v1\n")
    h.update(struct.pack("<I", len(prompts)))
    for p in prompts:
        h.update(struct.pack("<I", len(p)))
        h.update(struct.pack("<%dI" % len(p), *p))
    if output_lens is not None:
        h.update(b"output_lens\n")
        h.update(struct.pack("<I", len(output_lens)))
        h.update(struct.pack("<%dI" % len(output_lens), *output_lens))
    return h.hexdigest()


def program_sha256(source, arguments):
    """A program workload's hash as the Go side defines it
    (offline/workload.HashProgram): the program file's text and each
    program's argument dict as JSON text, byte for byte."""
    h = hashlib.sha256(b"enginebench/workload/program/v1\n")

    def put(text):
        b = text.encode("utf-8")
        h.update(struct.pack("<I", len(b)))
        h.update(b)

    put(source)
    h.update(struct.pack("<I", len(arguments)))
    for a in arguments:
        put(a)
    return h.hexdigest()


def closest(name, valid, n=3):
    """Names in valid that look like name, for 'did you mean' hints."""
    return difflib.get_close_matches(name, sorted(valid), n=n, cutoff=0.6)


def check_kwargs(engine, kwargs, valid, where):
    """Raises ConfigError naming each unknown keyword argument and the
    closest valid names."""
    unknown = [k for k in kwargs if k not in valid]
    if not unknown:
        return
    parts = []
    for k in unknown:
        hint = closest(k, valid)
        parts.append(f"{k!r}" + (f" (did you mean {', '.join(hint)}?)" if hint else ""))
    raise ConfigError(
        f"{engine} does not accept the argument{'s' if len(unknown) > 1 else ''} "
        f"{', '.join(parts)}: not in {where}; fix --engine-arg '{engine}: ...'"
    )


def field_names(cls):
    """The constructor keyword names of a config class: a dataclass, a
    msgspec Struct (vLLM's SamplingParams, SGLang's ServerArgs in 0.5.23),
    or anything with an inspectable signature."""
    import dataclasses
    import inspect

    if dataclasses.is_dataclass(cls):
        return {f.name for f in dataclasses.fields(cls)}
    names = getattr(cls, "__struct_fields__", None)
    if names:
        return set(names)
    params = inspect.signature(cls).parameters
    return {n for n, p in params.items() if p.kind not in (p.VAR_KEYWORD, p.VAR_POSITIONAL)}


def missing_params(cls, names):
    """The names in names that cls's constructor would refuse, sorted. A
    constructor that takes **kwargs refuses none."""
    import dataclasses
    import inspect

    if dataclasses.is_dataclass(cls) or getattr(cls, "__struct_fields__", None):
        return sorted(set(names) - field_names(cls))
    try:
        params = inspect.signature(cls).parameters
    except (TypeError, ValueError):
        return []
    if any(p.kind == p.VAR_KEYWORD for p in params.values()):
        return []
    return sorted(set(names) - set(params))


def require_params(engine, cls, where, names):
    """Raises ConfigError when cls would refuse a sampling parameter the
    measurement depends on: dropping it would measure something else."""
    missing = missing_params(cls, names)
    if missing:
        raise ConfigError(
            f"this {engine}'s {where} does not take {', '.join(missing)}, which the measurement depends on "
            f"(fixed output lengths): use an {engine} release whose {where} takes {'them' if len(missing) > 1 else 'it'}"
        )


def latency(ttft, e2e, output_tokens):
    """A request's engine-reported latency as the Go side reads it: time to
    first token, time per output token after the first, end to end, in
    seconds; None for what the engine does not give."""
    tpot = None
    if ttft is not None and e2e is not None and output_tokens > 1:
        tpot = max(0.0, (e2e - ttft) / (output_tokens - 1))
    return {"ttft_s": ttft, "tpot_s": tpot, "e2e_s": e2e}


def module_version(name):
    mod = sys.modules.get(name)
    if mod is None:
        try:
            mod = __import__(name)
        except Exception:  # noqa: BLE001 - a missing package has no version
            return None
    return getattr(mod, "__version__", None)


def jsonable(value, depth=0):
    """Best-effort conversion of engine config values to JSON-able data."""
    if value is None or isinstance(value, (bool, int, float, str)):
        return value
    if depth > 4:
        return repr(value)
    if isinstance(value, dict):
        return {str(k): jsonable(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, set, frozenset)):
        return [jsonable(v, depth + 1) for v in value]
    if hasattr(value, "name") and type(value).__module__ == "enum":
        return value.name
    return str(value)


class Adapter(abc.ABC):
    """One engine behind the protocol. Subclasses implement the _engine_*
    hooks; this class keeps the workload and the timing honest."""

    name = "engine"

    def __init__(self):
        self.prompts = None
        self.inputs = None
        self.input_len = 0
        self.output_len = 0
        self.output_lens = None
        self.varied = False
        self.cfg = None
        self.engine = None
        self.last = None
        self.index_by_prompt = {}
        self.calls = 0
        # A program workload (--program): SGLang frontend programs, run with
        # run_batch through a frontend backend over this engine.
        self.program = None
        self.backend = None

    # --- protocol -----------------------------------------------------------

    def check(self, cfg):
        """Imports the engine and validates the arguments, loading nothing."""
        self.cfg = cfg
        if cfg.get("program") and not self.runs_programs:
            raise self._no_programs()
        self._import_engine()
        kwargs = self.constructor_kwargs(cfg)
        self.validate(kwargs)
        if cfg.get("program"):
            from .. import frontend

            frontend.import_frontend()
            self._engine_check_features(kwargs, cfg.get("program_features"))
        return self.info(kwargs)

    def set_workload(self, w):
        """Reads the workload file the parent wrote (its prompts are token-ID
        lists) and builds the engine's prompt objects, outside any timing.
        Returns the count and the hash recomputed from the very lists the
        engine will get."""
        with open(w["path"], "rb") as f:
            doc = json.load(f)
        if (doc.get("spec") or {}).get("dataset") == "program":
            return self._set_programs(doc)
        prompts = doc["prompts"]
        self.input_len = int(w["input_len"])
        self.output_len = int(w["output_len"])
        # A ShareGPT workload's prompts vary in length (input_len is the
        # longest), and with reference output lengths so do its requests'
        # outputs (output_len is the most any generates).
        self.varied = (doc.get("spec") or {}).get("dataset") == "sharegpt"
        self.output_lens = doc.get("output_lens")
        if self.output_lens is not None and len(self.output_lens) != len(prompts):
            raise ValueError(f"{len(self.output_lens)} output lengths for {len(prompts)} prompts")
        for i, p in enumerate(prompts):
            if len(p) != self.input_len and not (self.varied and 0 < len(p) <= self.input_len):
                raise ValueError(f"prompt {i} has {len(p)} tokens, want {'at most ' if self.varied else ''}{self.input_len}")
        self.prompts = prompts
        # Answers are matched to prompts by content where the engine gives
        # no request id of ours back: every prompt of a workload differs.
        self.index_by_prompt = {tuple(p): i for i, p in enumerate(prompts)}
        # Engine-specific prompt objects are built now, outside any timing.
        self.inputs = self._engine_inputs(prompts)
        return {"count": len(prompts), "sha256": workload_sha256(prompts, self.output_lens)}

    def _set_programs(self, doc):
        """A program workload: the program file's text as the workload holds
        it (so another machine runs the very same program), and one argument
        dict per program, hashed as JSON text before it is parsed."""
        from .. import frontend

        prog, texts = doc["program"], doc["arguments"]
        name = (doc["spec"].get("program") or {}).get("file") or "program.py"
        program, _, check = frontend.load_program(name, source=prog["source"])
        self.program = {"program": program, "check": check, "arguments": [json.loads(a) for a in texts]}
        return {"count": len(texts), "sha256": program_sha256(prog["source"], texts)}

    def load(self, cfg):
        self.cfg = cfg
        self._import_engine()
        kwargs = self.constructor_kwargs(cfg)
        self.validate(kwargs)
        start = time.perf_counter()
        if self.program is not None:
            self.engine, self.backend = self._engine_construct_frontend(kwargs)
        else:
            self.engine = self._engine_construct(kwargs)
        load_s = time.perf_counter() - start
        info = self.info(kwargs)
        info["engine_load_s"] = load_s
        info["effective_config"] = jsonable(self._engine_effective_config())
        info["kv_cache_tokens"] = self._engine_kv_cache_tokens()
        info["reservation"] = jsonable(self._engine_reservation(kwargs))
        tp = self._engine_tensor_parallel()
        if tp:
            info["tensor_parallel"] = int(tp)
        block = self._engine_cache_block_tokens()
        if block:
            info["cache_block_tokens"] = int(block)
        info["notes"] = self._engine_notes()
        if self.backend is not None:
            template = getattr(self.backend.chat_template, "name", None)
            info["effective_config"]["frontend.chat_template"] = template
            info["notes"].append(f"programs' chat roles rendered with SGLang's {template!r} chat template, the same on every engine")
        return info

    def run_batch(self, cell):
        first, count = int(cell["first"]), int(cell["count"])
        if self.engine is None:
            raise RuntimeError("run_batch before load")
        if self.program is not None:
            return self._run_programs(first, count)
        if first < 0 or first + count > len(self.inputs):
            raise ValueError(f"batch [{first}, {first + count}) is outside the workload of {len(self.inputs)} prompts")
        batch = self.inputs[first:first + count]
        self.last = None
        self.calls += 1
        start = time.perf_counter()
        outputs = self._engine_generate(batch, first)
        engine_s = time.perf_counter() - start
        self.last = (first, count, outputs)
        return {"engine_s": engine_s}

    def _run_programs(self, first, count):
        from .. import frontend

        args = self.program["arguments"]
        if first < 0 or first + count > len(args):
            raise ValueError(f"batch [{first}, {first + count}) is outside the workload of {len(args)} programs")
        s = self.cfg["sampling"]
        self.last = None
        self.calls += 1
        # The run's temperature and top_p are the defaults of every gen that
        # sets none; a program's own settings win, as in SGLang.
        batch = frontend.run_programs(self.program["program"], args[first:first + count], self.backend,
                                      sampling={"temperature": s["temperature"], "top_p": s["top_p"]})
        self.last = ("programs", (first, batch))
        return {"engine_s": batch["wall_s"]}

    def collect(self, arg):
        """The last batch's per-request counts. With keep_ids, each request
        also carries the token IDs the engine returned (the output-parity
        check compares them across engines); without, they are dropped here,
        so results stay small. A program batch gives its programs' records
        instead."""
        if self.last is None:
            return {"requests": []}
        if self.last[0] == "programs":
            from .. import frontend

            first, batch = self.last[1]
            self.last = None
            # The checks run here, after the timed call.
            res = frontend.outcome(batch, self.backend, self.program["check"])
            for i, rec in enumerate(res["records"]):
                rec["index"] = first + i
            return {"requests": [], "programs": {k: res[k] for k in ("output_tokens", "gen_calls", "select_calls", "records")}}
        first, count, outputs = self.last
        self.last = None
        reqs = self._engine_collect(first, count, outputs)
        if not (arg or {}).get("keep_ids"):
            for r in reqs:
                r.pop("output_ids", None)
        return {"requests": reqs}

    def close(self, _):
        if self.backend is not None:
            backend, self.backend = self.backend, None
            backend.shutdown()  # drains what is in flight
        if self.engine is not None:
            engine, self.engine = self.engine, None
            self._engine_close(engine)
        return None

    # --- shared helpers -----------------------------------------------------

    def output_len_of(self, index):
        """The number of tokens the request of workload prompt index
        generates."""
        if self.output_lens is not None:
            return int(self.output_lens[index])
        return self.output_len

    def index_of_prompt(self, ids):
        """The workload index of the prompt with these token IDs, or -1."""
        return self.index_by_prompt.get(tuple(ids or ()), -1)

    def info(self, kwargs):
        return {
            "engine": self.name,
            "python_version": sys.version.split()[0],
            "versions": {k: v for k, v in self._engine_versions().items() if v is not None},
            "constructor_args": jsonable(kwargs),
        }

    def constructor_kwargs(self, cfg):
        """The tool's settings under the engine's own names, overridden by
        the user's --engine-arg values."""
        kwargs = self._engine_tool_kwargs(cfg)
        kwargs.update(cfg.get("user_args") or {})
        return kwargs

    def validate(self, kwargs):
        valid, where = self._engine_valid_kwargs()
        check_kwargs(self.name, kwargs, valid, where)
        self._engine_check(kwargs)

    # --- hooks --------------------------------------------------------------

    @abc.abstractmethod
    def _import_engine(self):
        """See the module docstring."""

    def _engine_versions(self):
        return {}

    @abc.abstractmethod
    def _engine_tool_kwargs(self, cfg):
        """See the module docstring."""

    @abc.abstractmethod
    def _engine_valid_kwargs(self):
        """See the module docstring."""

    def _engine_inputs(self, prompts):
        return prompts

    @abc.abstractmethod
    def _engine_construct(self, kwargs):
        """See the module docstring."""

    @abc.abstractmethod
    def _engine_generate(self, batch, first):
        """One generate call on batch, the engine's prompt objects of workload
        prompts [first, first + len(batch))."""

    @abc.abstractmethod
    def _engine_collect(self, first, count, outputs):
        """Per-request dicts: index, prompt_tokens, output_tokens,
        cached_tokens, finish_reason, optional timings, and output_ids (the
        returned token IDs, a list of ints). index is the workload index of
        the prompt the answer is for, found from the engine's request id or
        the prompt it echoes (index_of_prompt), not from the answer's
        position; -1 when it answers none of the batch's prompts."""

    def _engine_check(self, kwargs):
        """Engine-specific checks of the final keyword arguments, run in the
        pre-flight before any model loads; raise ConfigError."""

    def _engine_effective_config(self):
        return {}

    def _engine_kv_cache_tokens(self):
        return None

    def _engine_reservation(self, kwargs):
        return {}

    def _engine_tensor_parallel(self):
        """The number of GPUs one model replica spans, or None."""
        return None

    def _engine_cache_block_tokens(self):
        """The granularity of the engine's prefix cache in tokens, or None."""
        return None

    def _engine_notes(self):
        return []

    def _engine_close(self, engine):
        pass

    @property
    def runs_programs(self):
        """Whether the adapter runs program workloads: it has a frontend
        backend (overrides _engine_construct_frontend)."""
        return type(self)._engine_construct_frontend is not Adapter._engine_construct_frontend

    def _no_programs(self):
        return ConfigError(f"{self.name} cannot run SGLang frontend programs (--program): run them with --engine sglang and --engine vllm")

    def _engine_construct_frontend(self, kwargs):
        """A program workload: constructs the engine with its tokenizer (the
        frontend works on text) and returns (engine, frontend backend). An
        engine without a frontend backend refuses, as its pre-flight did."""
        raise self._no_programs()

    def _engine_check_features(self, kwargs, features):
        """Raises ConfigError when the engine, so configured, cannot do a
        feature the program uses (workload.Feature*; None: unknown)."""


def expose(module_globals, adapter):
    """Binds the protocol functions of a module to one adapter instance."""
    for name in ("check", "set_workload", "load", "run_batch", "collect", "close"):
        module_globals[name] = getattr(adapter, name)

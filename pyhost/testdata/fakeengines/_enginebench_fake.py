"""Shared machinery of enginebench's FAKE `vllm` and `sglang` packages.

TEST DOUBLES ONLY. Nothing here runs a model; it produces deterministic tokens
so that the adapters in pyhost can be tested without a GPU. These packages must
never be importable in a demo or a report run (they live in testdata/ and are
only put on sys.path by tests).

What lives here:
  * the ENGINEBENCH_FAKE control (JSON in the environment) and the per-call
    misbehaviours (short outputs, cached tokens, raise, crash, hang, sleeps);
  * reading config.json / generation_config.json of a model directory;
  * the deterministic token rule;
  * a small prefix cache (rolling hashes of prompt+output prefixes) so that
    repeated prompts report cached tokens like a real prefix cache would.

Pure standard library: works on CPython 3.10 - 3.13.
"""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from typing import Any

ENV_VAR = "ENGINEBENCH_FAKE"

# Keys a test may put under "vllm" or "sglang". Anything else is a typo in a
# test and is rejected loudly.
_PER_CALL_KEYS = ("short", "cached", "raise", "crash", "hang", "busy")
_SCALAR_KEYS = (
    "record",
    "load_s",
    "kv_cache_tokens",
    "fail_load",
    "sleep_s",
    "sleep_per_token_s",
    "eos_at",
)
KNOWN_KEYS = frozenset(_PER_CALL_KEYS + _SCALAR_KEYS)

# generate() calls counted per engine kind, in this process, from 1.
_CALLS = {"vllm": 0, "sglang": 0}
_CALLS_LOCK = threading.Lock()


def next_call(engine: str) -> int:
    with _CALLS_LOCK:
        _CALLS[engine] += 1
        return _CALLS[engine]


def calls_so_far(engine: str) -> int:
    return _CALLS[engine]


def log(engine: str, msg: str) -> None:
    """Engines log to stderr; so does the fake, and it says it is fake."""
    sys.stderr.write(f"[FAKE {engine}] {msg}\n")
    sys.stderr.flush()


# --------------------------------------------------------------------------
# control
# --------------------------------------------------------------------------


def _as_list(v: Any) -> list:
    if v is None:
        return []
    if isinstance(v, list):
        return v
    return [v]


def _calls_of(spec: dict) -> list[int]:
    c = spec.get("call")
    if c is None:
        raise ValueError(f"{ENV_VAR}: directive {spec!r} needs a 'call'")
    calls = _as_list(c)
    for x in calls:
        if not isinstance(x, int) or isinstance(x, bool) or x < 1:
            raise ValueError(f"{ENV_VAR}: 'call' must be an int >= 1, got {x!r}")
    return calls


class Control:
    """The parsed ENGINEBENCH_FAKE section for one engine kind."""

    def __init__(self, engine: str, section: dict | None):
        self.engine = engine
        self.raw = dict(section or {})
        unknown = set(self.raw) - KNOWN_KEYS
        if unknown:
            raise ValueError(
                f"{ENV_VAR}: unknown key(s) {sorted(unknown)} for {engine!r}; "
                f"known: {sorted(KNOWN_KEYS)}"
            )
        self.load_s = float(self.raw.get("load_s", 0) or 0)
        self.kv_cache_tokens = self.raw.get("kv_cache_tokens")
        if self.kv_cache_tokens is not None:
            self.kv_cache_tokens = int(self.kv_cache_tokens)
        self.fail_load = self.raw.get("fail_load")
        self.sleep_s = float(self.raw.get("sleep_s", 0) or 0)
        self.sleep_per_token_s = float(self.raw.get("sleep_per_token_s", 0) or 0)
        self.record = self.raw.get("record")
        self.eos_at = self.raw.get("eos_at")
        if self.eos_at is not None:
            self.eos_at = int(self.eos_at)
        self.per_call: dict[str, list[dict]] = {}
        for key in _PER_CALL_KEYS:
            specs = _as_list(self.raw.get(key))
            for s in specs:
                if not isinstance(s, dict):
                    raise ValueError(f"{ENV_VAR}: {key!r} must be an object, got {s!r}")
                _calls_of(s)
            self.per_call[key] = specs

    def directive(self, key: str, call: int) -> dict | None:
        for spec in self.per_call.get(key, []):
            if call in _calls_of(spec):
                return spec
        return None

    # -- load ---------------------------------------------------------------
    def at_load(self) -> None:
        if self.load_s > 0:
            time.sleep(self.load_s)
        if self.fail_load:
            msg = str(self.fail_load)
            log(self.engine, f"engine load failed (ENGINEBENCH_FAKE fail_load): {msg}")
            raise RuntimeError(msg)

    # -- per call -------------------------------------------------------------
    def before_run(self, call: int, duration_s: float) -> None:
        """raise / crash / hang directives; called once the requests are queued."""
        spec = self.directive("raise", call)
        if spec is not None:
            msg = str(spec.get("message", f"fake {self.engine} failure on call {call}"))
            log(self.engine, f"generate call {call} raises RuntimeError: {msg}")
            raise RuntimeError(msg)
        spec = self.directive("crash", call)
        if spec is not None:
            log(self.engine, f"generate call {call}: crashing with SIGKILL (ENGINEBENCH_FAKE crash)")
            time.sleep(min(duration_s / 2, 1.0))
            os.kill(os.getpid(), signal.SIGKILL)
            time.sleep(60)  # not reached
        spec = self.directive("hang", call)
        if spec is not None:
            log(self.engine, f"generate call {call}: hanging for an hour (ENGINEBENCH_FAKE hang)")
            time.sleep(float(spec.get("seconds", 3600)))
        spec = self.directive("busy", call)
        if spec is not None:
            # A pure-Python loop: unlike time.sleep it runs bytecode, so an
            # interrupt (PyErr_SetInterrupt / SIGINT) raises KeyboardInterrupt here.
            seconds = float(spec.get("seconds", 3600))
            log(self.engine, f"generate call {call}: busy for {seconds:g} s (ENGINEBENCH_FAKE busy)")
            end = time.monotonic() + seconds
            n = 0
            while time.monotonic() < end:
                n += 1

    def record_prompts(self, prompts) -> None:
        """"record": PATH -- append one JSON line per generate call: the list of
        prompt token-id lists the engine received, in request order."""
        if not self.record:
            return
        with open(self.record, "a", encoding="utf-8") as f:
            f.write(json.dumps([[int(t) for t in p] for p in prompts]) + "\n")

    def short_by(self, call: int, request_index: int) -> int:
        spec = self.directive("short", call)
        if spec is None:
            return 0
        if request_index < int(spec.get("requests", 1)):
            return int(spec.get("by", 1))
        return 0

    def cached_override(self, call: int) -> int | None:
        spec = self.directive("cached", call)
        if spec is None:
            return None
        return int(spec.get("tokens", 0))

    def call_duration(self, total_output_tokens: int) -> float:
        return self.sleep_s + self.sleep_per_token_s * total_output_tokens


def load_control(engine: str) -> Control:
    raw = os.environ.get(ENV_VAR, "").strip()
    if not raw:
        return Control(engine, None)
    try:
        doc = json.loads(raw)
    except json.JSONDecodeError as e:
        raise ValueError(f"{ENV_VAR} is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise ValueError(f"{ENV_VAR} must be a JSON object keyed by engine name")
    section = doc.get(engine)
    if section is not None and not isinstance(section, dict):
        raise ValueError(f"{ENV_VAR}[{engine!r}] must be an object")
    return Control(engine, section)


# --------------------------------------------------------------------------
# model directory
# --------------------------------------------------------------------------

TOKENIZER_FILES = ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "vocab.json")


class ModelDir:
    """What the fakes read from a model directory: config.json and friends."""

    def __init__(self, path: str):
        self.path = path
        self.config: dict = {}
        self.generation_config: dict | None = None
        with open(os.path.join(path, "config.json"), encoding="utf-8") as f:
            self.config = json.load(f)
        gc = os.path.join(path, "generation_config.json")
        if os.path.isfile(gc):
            with open(gc, encoding="utf-8") as f:
                self.generation_config = json.load(f)
        self.has_tokenizer = any(os.path.isfile(os.path.join(path, n)) for n in TOKENIZER_FILES)

    @property
    def vocab_size(self) -> int:
        return int(self.config.get("vocab_size", 32000))

    @property
    def max_position_embeddings(self) -> int:
        for k in ("max_position_embeddings", "n_positions", "max_seq_len", "seq_length"):
            if k in self.config:
                return int(self.config[k])
        return 2048

    @property
    def eos_token_ids(self) -> list[int]:
        v = self.config.get("eos_token_id")
        if v is None:
            return []
        return [int(x) for x in _as_list(v)]

    @property
    def generation_eos_token_ids(self) -> list[int]:
        if not self.generation_config:
            return []
        v = self.generation_config.get("eos_token_id")
        if v is None:
            return []
        return [int(x) for x in _as_list(v)]

    @property
    def config_dtype(self) -> str:
        return str(self.config.get("torch_dtype") or self.config.get("dtype") or "float32")

    def kv_bytes_per_token(self, dtype_bytes: int) -> int:
        c = self.config
        layers = int(c.get("num_hidden_layers", 2))
        heads = int(c.get("num_attention_heads", 1))
        kv_heads = int(c.get("num_key_value_heads", heads))
        hidden = int(c.get("hidden_size", 64))
        head_dim = int(c.get("head_dim", max(1, hidden // max(1, heads))))
        return 2 * layers * kv_heads * head_dim * dtype_bytes


def looks_like_repo_id(name: str) -> bool:
    """huggingface_hub's validate_repo_id, approximately."""
    import re

    if name.startswith(("/", ".", "~")) or "--" in name or ".." in name:
        return False
    return re.fullmatch(r"[\w.\-]{1,96}(/[\w.\-]{1,96})?", name) is not None


# --------------------------------------------------------------------------
# deterministic tokens
# --------------------------------------------------------------------------


def token_at(prompt_ids, i: int, vocab_size: int, sample: int = 0) -> int:
    """Output token i (0-based) of a request: (sum(prompt) * 31 + i + 7919 * sample) % vocab."""
    return (sum(prompt_ids) * 31 + i + 7919 * sample) % vocab_size


def generate_tokens(
    prompt_ids,
    *,
    vocab_size: int,
    max_new: int,
    min_new: int,
    stop_ids: set,
    eos_ids: set,
    ignore_eos: bool,
    eos_at: int | None = None,
    eos_token: int | None = None,
    sample: int = 0,
):
    """Deterministic decode loop shared by both fakes.

    Returns (tokens, stop_kind, matched) where stop_kind is "length" or "stop"
    and matched is the token id that stopped the request (or None).
    Rules: token i = token_at(...); ENGINEBENCH_FAKE "eos_at": k makes token k
    the model's eos id (eos_token). A stop/eos token produced before min_new
    tokens is suppressed (replaced by (tok + 1) % vocab), as a logits
    processor would. eos_ids stop only when ignore_eos is False; stop_ids
    always stop (the caller decides what goes in which set).
    """
    tokens: list[int] = []
    for i in range(max_new):
        tok = token_at(prompt_ids, i, vocab_size, sample)
        if eos_at is not None and i == eos_at and eos_token is not None:
            tok = eos_token
        stopping = tok in stop_ids or (not ignore_eos and tok in eos_ids)
        if stopping and i < min_new:
            tok = (tok + 1) % vocab_size
            stopping = tok in stop_ids or (not ignore_eos and tok in eos_ids)
            if stopping:
                tok = (tok + 1) % vocab_size
                stopping = False
        tokens.append(tok)
        if stopping:
            return tokens, "stop", tok
    return tokens, "length", None


def fake_text(token_ids) -> str:
    """What the fake 'detokenizer' produces: one ' tN' piece per token."""
    return "".join(f" t{t}" for t in token_ids)


def fake_tokenize(text: str, vocab_size: int) -> list[int]:
    """What the fake 'tokenizer' produces: one id per UTF-8 byte, above the 4 specials."""
    span = max(1, vocab_size - 4)
    return [4 + (b % span) for b in text.encode("utf-8")]


# --------------------------------------------------------------------------
# prefix cache
# --------------------------------------------------------------------------

_MOD = (1 << 61) - 1
_BASE = 1_000_003


class PrefixCache:
    """Remembers prefixes of finished sequences (prompt + output).

    granularity 1 (SGLang radix cache, page_size 1) or block_size (vLLM). A
    lookup returns the longest remembered prefix of the prompt, rounded down
    to the granularity and capped at len(prompt) - 1 (the last prompt token is
    always computed), which is what both engines report.
    """

    def __init__(self, granularity: int):
        self.granularity = max(1, int(granularity))
        self._seen: set[tuple[int, int]] = set()

    def clear(self) -> None:
        self._seen.clear()

    def _prefix_hashes(self, ids):
        h = 0
        g = self.granularity
        for n, t in enumerate(ids, 1):
            h = (h * _BASE + (int(t) + 1)) % _MOD
            if n % g == 0:
                yield n, h

    def lookup(self, prompt_ids) -> int:
        best = 0
        limit = len(prompt_ids) - 1
        for n, h in self._prefix_hashes(prompt_ids):
            if n > limit:
                break
            if (n, h) in self._seen:
                best = n
            else:
                break
        return best

    def insert(self, ids) -> None:
        for n, h in self._prefix_hashes(ids):
            self._seen.add((n, h))


# --------------------------------------------------------------------------
# a msgspec.Struct look-alike (the fakes may not import msgspec)
# --------------------------------------------------------------------------

_REQUIRED = object()


class _Factory:
    def __init__(self, fn):
        self.fn = fn


def factory(fn):
    """Default produced by calling fn() (msgspec.field(default_factory=fn))."""
    return _Factory(fn)


class StructLike:
    """Mimics how msgspec.Struct constructors behave, for classes that are
    msgspec Structs in the real engines (vLLM SamplingParams, SGLang
    SamplingParams and ServerArgs):

      * fields in declaration order, exposed as __struct_fields__;
      * positional arguments allowed unless _kw_only;
      * TypeError("Unexpected keyword argument 'x'") for an unknown keyword,
        "Extra positional arguments provided", "Argument 'x' given by name and
        position", "Missing required argument 'x'" -- msgspec's own messages;
      * __post_init__ called after construction; __eq__ compares fields;
      * inspect.signature(cls) lists the fields with their defaults.

    Subclasses define _fields = [(name, default), ...] (default may be
    _REQUIRED or factory(fn)).
    """

    _fields: list = []
    _kw_only = False

    def __init_subclass__(cls, **kw):
        super().__init_subclass__(**kw)
        import inspect

        cls.__struct_fields__ = tuple(n for n, _ in cls._fields)
        cls._defaults = dict(cls._fields)
        kind = inspect.Parameter.KEYWORD_ONLY if cls._kw_only else inspect.Parameter.POSITIONAL_OR_KEYWORD
        params = []
        for n, d in cls._fields:
            if d is _REQUIRED:
                params.append(inspect.Parameter(n, kind))
            elif isinstance(d, _Factory):
                params.append(inspect.Parameter(n, kind, default=d.fn()))
            else:
                params.append(inspect.Parameter(n, kind, default=d))
        if not cls._kw_only:
            # required fields must come first for a valid Signature; msgspec
            # orders them the same way
            params.sort(key=lambda p: p.default is not inspect.Parameter.empty)
        cls.__signature__ = inspect.Signature(params)

    def __init__(self, *args, **kwargs):
        names = self.__struct_fields__
        if args:
            if self._kw_only or len(args) > len(names):
                raise TypeError("Extra positional arguments provided")
        values = {}
        for n, v in zip(names, args):
            values[n] = v
        for k, v in kwargs.items():
            if k not in self._defaults:
                raise TypeError(f"Unexpected keyword argument '{k}'")
            if k in values:
                raise TypeError(f"Argument '{k}' given by name and position")
            values[k] = v
        for n in names:
            if n in values:
                object.__setattr__(self, n, values[n])
                continue
            d = self._defaults[n]
            if d is _REQUIRED:
                raise TypeError(f"Missing required argument '{n}'")
            object.__setattr__(self, n, d.fn() if isinstance(d, _Factory) else d)
        post = getattr(self, "__post_init__", None)
        if post is not None:
            post()

    def __eq__(self, other):
        if type(other) is not type(self):
            return NotImplemented
        return all(getattr(self, n) == getattr(other, n) for n in self.__struct_fields__)

    __hash__ = None  # msgspec Structs are unhashable unless frozen

    def __repr__(self):
        body = ", ".join(f"{n}={getattr(self, n)!r}" for n in self.__struct_fields__)
        return f"{type(self).__name__}({body})"

    def __copy__(self):
        new = object.__new__(type(self))
        new.__dict__.update(self.__dict__)
        return new

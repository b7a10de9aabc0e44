"""Prints, as JSON, the API surface of the vllm or sglang importable here that
enginebench's adapters rely on: run once with the real engine and once with
the fake (PYTHONPATH=this directory), the two outputs must be equal.

    python surface.py vllm|sglang

Each entry is a list of [name, kind, default]: a signature's parameters, or
a config class's fields. A default is kept when it is a plain value (None,
bool, int, float, str) and written as "<other>" otherwise (factories,
placeholder objects), so the comparison sees names, order, kinds and the
defaults that matter.
"""

import inspect
import json
import os
import sys

# This file sits beside the fakes: drop its own directory from the path, so
# the fakes are imported only when PYTHONPATH names them.
_here = os.path.dirname(os.path.abspath(__file__))
if sys.path and os.path.abspath(sys.path[0] or ".") == _here and _here not in os.environ.get("PYTHONPATH", "").split(os.pathsep):
    del sys.path[0]

_PLAIN = (type(None), bool, int, float, str)


def _default(value):
    if value is inspect.Parameter.empty:
        return "<required>"
    if isinstance(value, _PLAIN):
        return value
    return "<other>"


def signature(fn):
    out = []
    for name, p in inspect.signature(fn).parameters.items():
        if name == "self":
            continue
        out.append([name, p.kind.name, _default(p.default)])
    return out


def fields(cls):
    """A config class's fields: a dataclass, a msgspec Struct, or (for a
    struct-like class) its __struct_fields__ with its signature's defaults."""
    import dataclasses

    if dataclasses.is_dataclass(cls):
        out = []
        for f in dataclasses.fields(cls):
            d = f.default
            if d is dataclasses.MISSING:
                d = "<other>" if f.default_factory is not dataclasses.MISSING else inspect.Parameter.empty
            out.append([f.name, "FIELD", _default(d)])
        return out
    names = getattr(cls, "__struct_fields__", None)
    if names is None:
        return signature(cls)
    params = inspect.signature(cls).parameters
    return [[n, "FIELD", _default(params[n].default) if n in params else "<other>"] for n in names]


def sglang_surface():
    from sglang.srt.entrypoints.engine import Engine
    from sglang.srt.server_args import ServerArgs

    return {
        "sglang.Engine.generate": signature(Engine.generate),
        "sglang.srt.server_args.ServerArgs": fields(ServerArgs),
    }


def vllm_surface():
    from vllm import LLM, SamplingParams
    from vllm.engine.arg_utils import EngineArgs

    return {
        "vllm.LLM.__init__": signature(LLM.__init__),
        "vllm.LLM.generate": signature(LLM.generate),
        "vllm.SamplingParams": fields(SamplingParams),
        "vllm.engine.arg_utils.EngineArgs": [[n, k, "<any>"] for n, k, _ in fields(EngineArgs)],
    }


def main():
    if len(sys.argv) != 2 or sys.argv[1] not in ("vllm", "sglang"):
        print("usage: surface.py vllm|sglang", file=sys.stderr)
        return 2
    engine = sys.argv[1]
    surface = sglang_surface() if engine == "sglang" else vllm_surface()
    mod = sys.modules[engine]
    json.dump({"fake": bool(getattr(mod, "__enginebench_fake__", False)), "surface": surface}, sys.stdout)
    return 0


if __name__ == "__main__":
    sys.exit(main())

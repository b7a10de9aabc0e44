"""FAKE SGLang: an enginebench TEST DOUBLE, not the real serving framework.

It keeps the offline-Engine API surface of SGLang 0.5.23 that enginebench's
adapter uses (sglang.Engine, ServerArgs, SamplingParams, Engine.generate and
its output dicts) and returns deterministic tokens without any model. Never
use it in a demo or a report. See ../README.md.

The real sglang/__init__.py (0.5.23) also imports the frontend language
(function, gen, Runtime, ...); the fake does not provide it.
"""

from sglang.utils import LazyImport
from sglang.version import __version__, __version_tuple__

#: Marker for code that must refuse to report numbers from a fake engine.
__enginebench_fake__ = True
#: The real SGLang release whose API this fake copies.
FAKE_MIMICS_VERSION = "0.5.23"

# Runtime API -- as in the real 0.5.23 __init__.py: LazyImport objects, not
# functions or classes (sglang/api.py's `def Engine(...)` wrapper is gone).
ServerArgs = LazyImport("sglang.srt.server_args", "ServerArgs")
Engine = LazyImport("sglang.srt.entrypoints.engine", "Engine")

__all__ = ["Engine", "ServerArgs", "__version__"]

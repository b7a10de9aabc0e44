"""enginebench's Python side, embedded in the Go binary.

The Go host calls exactly one function here, ``_call``: it takes a module
name, a function name and a JSON payload, calls ``module.function(payload)``
and returns the result as JSON. Every exception is caught and returned as
data (type, message, traceback), so only strings cross the C boundary.
"""

import importlib
import json
import sys
import threading
import traceback

__all__ = ["describe_exception"]

_functions = {}


def describe_exception(exc):
    """Returns a JSON-able description of an exception with its traceback."""
    cls = type(exc)
    name = cls.__qualname__
    if cls.__module__ not in ("builtins", "__main__"):
        name = cls.__module__ + "." + name
    return {
        "type": name,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(cls, exc, exc.__traceback__)),
    }


def _call(module, function, payload):
    """Calls module.function(json.loads(payload)).

    Returns "R" + JSON of the result, or "E" + JSON of the exception. The
    one-letter tag saves the Go side a second JSON decode.
    """
    try:
        key = (module, function)
        fn = _functions.get(key)
        if fn is None:
            fn = getattr(importlib.import_module(module), function)
            _functions[key] = fn
        arg = json.loads(payload) if payload else None
        return "R" + json.dumps(fn(arg))
    except BaseException as exc:  # noqa: BLE001 - everything goes back to Go as data
        return "E" + json.dumps(describe_exception(exc))


def _bootstrap(cfg):
    """Finishes initialisation; the Go host calls it once, on the main thread."""
    sys.argv = list(cfg.get("argv") or ["enginebench"])
    exe = cfg.get("executable")
    if exe and sys.executable != exe:
        # multiprocessing's spawn start method runs this executable; it must be
        # the user's python (venv), never the Go binary or a PATH python.
        import multiprocessing

        multiprocessing.set_executable(exe)
    return {
        "thread_ident": threading.get_ident(),
        "executable": sys.executable,
        "version": sys.version.split()[0],
        "prefix": sys.prefix,
    }


def _run_exit_functions(_):
    """Runs atexit handlers without finalizing the interpreter.

    Engines register shutdown work with atexit (SGLang shuts its Engine down,
    multiprocessing joins its children); the Go host never finalizes Python
    after native libraries such as CUDA are loaded, so it runs them here.
    """
    import atexit

    atexit._run_exitfuncs()
    return None

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


def _make_codec():
    """JSON decode and encode functions for the call path.

    They call json's C scanner and encoder directly: json.loads and
    json.dumps build an encoder and match whitespace with a regular
    expression on every call, which is 40% of a 1 KiB round trip (about
    2.5 us here). Same output as json.dumps; a circular structure raises
    RecursionError instead of ValueError. Falls back to json.loads/dumps
    where the C accelerator is missing.
    """
    from json import decoder, encoder, scanner

    if scanner.c_make_scanner is None or encoder.c_make_encoder is None:
        return json.loads, json.dumps
    scan = scanner.c_make_scanner(decoder.JSONDecoder())
    encode = encoder.c_make_encoder(
        None, json.JSONEncoder().default, encoder.encode_basestring_ascii, None, ": ", ", ", False, False, True
    )

    def loads(s):
        start = decoder.WHITESPACE.match(s, 0).end() if s[:1].isspace() else 0
        try:
            value, end = scan(s, start)
        except StopIteration as err:
            raise json.JSONDecodeError("Expecting value", s, err.value) from None
        if end != len(s):
            end = decoder.WHITESPACE.match(s, end).end()  # as json.loads: trailing blanks are fine
            if end != len(s):
                raise json.JSONDecodeError("Extra data", s, end)
        return value

    def dumps(value):
        return "".join(encode(value, 0))

    return loads, dumps


_loads, _dumps = _make_codec()


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
        arg = _loads(payload) if payload else None
        return "R" + _dumps(fn(arg))
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

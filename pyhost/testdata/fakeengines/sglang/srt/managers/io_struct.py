# FAKE sglang (enginebench test double) -- subset of sglang/srt/managers/io_struct.py (0.5.23).
from _enginebench_fake import StructLike, _REQUIRED


class FlushCacheReqOutput(StructLike):
    """Returned by Engine.flush_cache() (a msgspec Struct, kw_only, in the real one)."""

    _kw_only = True
    _fields = [("success", _REQUIRED), ("message", "")]

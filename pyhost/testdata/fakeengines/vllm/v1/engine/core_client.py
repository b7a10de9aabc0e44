# FAKE vllm (enginebench test double) -- vllm/v1/engine/core_client.py (subset).
# In the real 0.32.0 LLM (multiprocess mode, the default) llm.llm_engine.engine_core
# is a SyncMPClient; shutdown(timeout=None) stops the EngineCore process(es).
from __future__ import annotations


class EngineCoreClient:
    """Base of the clients (FAKE)."""

    def shutdown(self, timeout: float | None = None) -> None: ...


class MPClient(EngineCoreClient):
    def __init__(self, core) -> None:
        self._fake_core = core
        self.resources = None

    def shutdown(self, timeout: float | None = None) -> None:
        self._fake_core.shutdown()

    def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        return self._fake_core.reset_prefix_cache()

    def abort_requests(self, request_ids: list[str]) -> None:
        self._fake_core.abort(request_ids)

    def is_sleeping(self) -> bool:
        return self._fake_core.sleeping


class SyncMPClient(MPClient):
    """Synchronous client for multi-proc EngineCore (FAKE: nothing is spawned)."""


class InprocClient(EngineCoreClient):
    """In-process client (VLLM_ENABLE_V1_MULTIPROCESSING=0) (FAKE)."""

    def __init__(self, core) -> None:
        self._fake_core = core

    def shutdown(self, timeout: float | None = None) -> None:
        self._fake_core.shutdown()

    def reset_prefix_cache(self, reset_running_requests: bool = False, reset_connector: bool = False) -> bool:
        return self._fake_core.reset_prefix_cache()

    def abort_requests(self, request_ids: list[str]) -> None:
        self._fake_core.abort(request_ids)

    def is_sleeping(self) -> bool:
        return self._fake_core.sleeping

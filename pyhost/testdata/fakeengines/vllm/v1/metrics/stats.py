# FAKE vllm (enginebench test double) -- RequestStateStats copied field for
# field from vllm/v1/metrics/stats.py (vLLM 0.32.0).
from dataclasses import dataclass


@dataclass
class RequestStateStats:
    """Stats that need to be tracked across delta updates."""

    num_generation_tokens: int = 0
    num_preemptions: int = 0

    # This is an engine frontend timestamp (wall-clock)
    arrival_time: float = 0.0

    # These are engine core timestamps (monotonic)
    queued_ts: float = 0.0
    scheduled_ts: float = 0.0
    first_token_ts: float = 0.0
    last_token_ts: float = 0.0

    # first token latency
    first_token_latency: float = 0.0

    # Track if this request is corrupted (NaNs in logits)
    is_corrupted: bool = False

    # Track if this request was sampled with the engine watermark
    is_watermarked: bool = False

    # Track if this request asked for the watermark but could not use it
    is_watermark_skipped: bool = False

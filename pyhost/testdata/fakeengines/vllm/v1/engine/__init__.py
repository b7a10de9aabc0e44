# FAKE vllm (enginebench test double)
from typing import Literal

PauseMode = Literal["abort", "wait", "keep"]

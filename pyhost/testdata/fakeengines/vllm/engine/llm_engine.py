# FAKE vllm (enginebench test double) -- as in vLLM 0.32.0, an alias of the V1 engine.
from vllm.v1.engine.llm_engine import LLMEngine as V1LLMEngine

LLMEngine = V1LLMEngine  # type: ignore

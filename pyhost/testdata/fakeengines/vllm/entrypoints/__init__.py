# FAKE vllm (enginebench test double)

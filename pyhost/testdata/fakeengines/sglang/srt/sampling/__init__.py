# FAKE sglang (enginebench test double)

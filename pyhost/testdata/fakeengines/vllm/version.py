# FAKE vllm (enginebench test double). The real vllm/version.py reads _version.py.
# "0.0.0+fake.0.32.0": a PEP 440 version that sorts below every real release
# and names the release whose API is copied (vLLM 0.32.0).
__version__ = "0.0.0+fake.0.32.0"
__version_tuple__ = (0, 0, 0, "fake", "0.32.0")

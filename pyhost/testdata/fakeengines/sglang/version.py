# FAKE sglang (enginebench test double). "0.0.0+fake.0.5.23": sorts below every
# real release and names the release whose API is copied (SGLang 0.5.23).
__version__ = "0.0.0+fake.0.5.23"
__version_tuple__ = (0, 0, 0, "fake", "0.5.23")

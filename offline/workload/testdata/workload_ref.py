"""Reference implementation of enginebench's workload generator and hash.

It mirrors offline/workload (Generate and Hash) step by step, so anyone can
regenerate a workload from its spec, or check a workload file's sha256,
without Go. Run it to check it against the hash pinned in the Go tests:

    python3 workload_ref.py                  # self-check
    python3 workload_ref.py workload.json    # verify a workload file
"""
import hashlib
import json
import struct
import sys

M64 = (1 << 64) - 1
SEED_STREAM = 0x656E67696E656265  # ASCII "enginebe"


class PCG:
    """Go's math/rand/v2 PCG: 128-bit LCG state, DXSM output."""

    MUL = (2549297995355413924 << 64) | 4865540595714422341
    INC = (6364136223846793005 << 64) | 1442695040888963407

    def __init__(self, seed1, seed2):
        self.state = ((seed1 & M64) << 64) | (seed2 & M64)

    def uint64(self):
        self.state = (self.state * self.MUL + self.INC) & ((1 << 128) - 1)
        hi, lo = self.state >> 64, self.state & M64
        hi ^= hi >> 32
        hi = (hi * 0xDA942042E4DD58B5) & M64
        hi ^= hi >> 48
        return (hi * (lo | 1)) & M64


def bounded(rng, n):
    """Uniform in [0, n): Lemire's multiply-shift with rejection."""
    x = rng.uint64() * n
    hi, lo = x >> 64, x & M64
    if lo < n:
        thresh = ((1 << 64) - n) % n
        while lo < thresh:
            x = rng.uint64() * n
            hi, lo = x >> 64, x & M64
    return hi


def generate(spec):
    """Return the prompts of a workload spec (the "spec" object of a file)."""
    excluded = set(spec["exclude"])
    vocab = [i for i in range(spec["vocab_size"]) if i not in excluded]
    v = len(vocab)
    n = sum(spec["batch_sizes"]) * (spec["reps"] + spec["warmup"])
    k, p = 1, v
    while p < n:
        k, p = k + 1, p * v
    m = v**k
    rng = PCG(spec["seed"], SEED_STREAM)
    seen, codes = set(), []
    for j in range(m - n, m):  # Floyd's algorithm: n distinct codes in [0, m)
        t = bounded(rng, j + 1)
        if t in seen:
            t = j
        seen.add(t)
        codes.append(t)
    for i in range(n - 1, 0, -1):  # Fisher-Yates shuffle
        j = bounded(rng, i + 1)
        codes[i], codes[j] = codes[j], codes[i]
    prompts = []
    for c in codes:
        prefix = []
        for _ in range(k):
            prefix.append(vocab[c % v])
            c //= v
        prefix.reverse()
        rest = [vocab[bounded(rng, v)] for _ in range(spec["input_len"] - k)]
        prompts.append(prefix + rest)
    return prompts


def workload_sha256(prompts):
    h = hashlib.sha256(b"enginebench/workload/v1\n")
    h.update(struct.pack("<I", len(prompts)))
    for p in prompts:
        h.update(struct.pack("<I", len(p)))
        h.update(struct.pack(f"<{len(p)}I", *p))
    return h.hexdigest()


if __name__ == "__main__":
    if len(sys.argv) > 1:
        with open(sys.argv[1]) as f:
            doc = json.load(f)
        got = workload_sha256(doc["prompts"])
        regenerated = workload_sha256(generate(doc["spec"]))
        print("recorded   ", doc["sha256"])
        print("prompts    ", got)
        print("regenerated", regenerated)
        sys.exit(0 if doc["sha256"] == got == regenerated else 1)
    # The spec and hash pinned by TestPinned in workload_test.go.
    pinned = {"seed": 20240601, "input_len": 128, "vocab_size": 128256,
              "exclude": list(range(128000, 128256)),
              "batch_sizes": [1, 2, 4, 8, 16, 32, 64], "reps": 3, "warmup": 1}
    prompts = generate(pinned)
    assert prompts[0][:8] == [82247, 36043, 27309, 55407, 62363, 41373, 118928, 111634], prompts[0][:8]
    assert workload_sha256(prompts) == "87c92766e585e11105fb224174568cae80fda2612180d0434e95bef6ebddc7e2"
    assert workload_sha256([[0, 1, 2], [128255, 7]]) == "dbc04cc7c9c80927a50078f6cd5de83e9b3209804a76dc14b039196cde31405c"
    print("ok")

#!/usr/bin/env python3
"""Build a tiny Llama-architecture model with random weights, entirely offline.

Usage:
    python scripts/build_tiny_model.py --out DIR [--seed 0] [--size tiny|1b] [--force]

The model is meant for CPU smoke tests and demos of enginebench: every engine
(transformers, vLLM's CPU build, SGLang) must accept it, and every engine must
see exactly the same weights.  Nothing is downloaded: the tokenizer is a
byte-level BPE trained here, on a corpus this script generates from the seed.

Shape (LlamaForCausalLM), --size tiny (the default):
    vocab 4096 (ids 0-3 are <unk> <s> </s> <pad>), hidden 128, 2 layers,
    2 attention heads of head_dim 64, 1 key/value head (GQA), MLP 256,
    max_position_embeddings 2048, untied lm_head.  About 1.3 M parameters.
--size 1b, for GPU checks (scripts/gpu-check.sh): the same vocabulary and
    tokenizer, hidden 2048, 16 layers, 32 heads of head_dim 64, 8 key/value
    heads, MLP 8192: about 0.99 B parameters, 2 GB of bfloat16.  Its weights
    come from NumPy's Generator(PCG64(seed)), which draws a billion normals in
    seconds but is not frozen across NumPy releases as the tiny model's stream
    is: same seed, same NumPy, same weights.

Weights are stored as bfloat16 and config.json says "dtype": "bfloat16":
  * bf16 -> fp32 is exact, so an engine asked for --dtype float32 sees the very
    same numbers as one asked for bfloat16; no engine rounds differently.
  * dtype "auto" then means bf16 in transformers and vLLM alike (vLLM would
    downcast a float32 config to bf16 anyway); SGLang reads the same field.
  * vLLM's CPU backend supports bf16/fp16/fp32 and this machine has AVX512-BF16.

Determinism: the corpus comes from random.Random(seed), the weights from
numpy's legacy RandomState(seed) (a stream NumPy promises never to change),
and every JSON file is written by this script with sorted keys.  Two builds
with the same seed are byte-identical.

Caching: DIR/.tiny-model-stamp holds the sha256 of this script and the
arguments.  When it matches (and the files exist) the script does nothing.
"""

from __future__ import annotations

import argparse
import hashlib
import itertools
import json
import os
import random
import shutil
import sys
import tempfile
import time

STAMP_NAME = ".tiny-model-stamp"

VOCAB_SIZE = 4096
SPECIAL_TOKENS = ["<unk>", "<s>", "</s>", "<pad>"]  # ids 0, 1, 2, 3
UNK_ID, BOS_ID, EOS_ID, PAD_ID = 0, 1, 2, 3
# head_dim = hidden / heads = 64 in every size: supported by vLLM CPU
# attention, FlashAttention, FlashInfer and SGLang.
SIZES = {
    "tiny": {"hidden": 128, "layers": 2, "heads": 2, "kv_heads": 1, "intermediate": 256},
    "1b": {"hidden": 2048, "layers": 16, "heads": 32, "kv_heads": 8, "intermediate": 8192},
}
MAX_POS = 2048
RMS_EPS = 1e-5
ROPE_THETA = 10000.0
INIT_STD = 0.02

OUTPUT_FILES = (
    "config.json",
    "generation_config.json",
    "model.safetensors",
    "tokenizer.json",
    "tokenizer_config.json",
    "special_tokens_map.json",
)


def script_sha256() -> str:
    with open(os.path.abspath(__file__), "rb") as f:
        return hashlib.sha256(f.read()).hexdigest()


def stamp_text(seed: int, size: str = "tiny") -> str:
    return json.dumps({"script_sha256": script_sha256(), "args": {"seed": seed, "size": size}}, sort_keys=True) + "\n"


def up_to_date(out: str, stamp: str) -> bool:
    try:
        with open(os.path.join(out, STAMP_NAME), encoding="utf-8") as f:
            if f.read() != stamp:
                return False
    except OSError:
        return False
    return all(os.path.isfile(os.path.join(out, name)) for name in OUTPUT_FILES)


def write_json(path: str, obj) -> None:
    with open(path, "w", encoding="utf-8", newline="\n") as f:
        json.dump(obj, f, indent=2, sort_keys=True, ensure_ascii=False)
        f.write("\n")


# ---------------------------------------------------------------- corpus

_ONSETS = ["", "b", "c", "d", "f", "g", "h", "j", "k", "l", "m", "n", "p", "r", "s", "t", "v", "w", "z",
           "bl", "br", "ch", "cl", "cr", "dr", "fl", "fr", "gl", "gr", "pl", "pr", "sc", "sh", "sk", "sl",
           "sm", "sn", "sp", "st", "str", "sw", "th", "tr", "wh"]
_NUCLEI = ["a", "e", "i", "o", "u", "y", "ai", "ea", "ee", "ie", "oa", "oo", "ou"]
_CODAS = ["", "", "", "b", "ck", "d", "f", "g", "l", "ll", "m", "n", "nd", "ng", "nt", "p", "r", "rd",
          "rn", "s", "ss", "st", "t", "th", "x"]
_PUNCT_END = [".", ".", ".", ".", "?", "!"]


def make_corpus(seed: int, n_sentences: int = 30000) -> list[str]:
    """Deterministic English-looking text: a Zipf-weighted lexicon of made-up
    words, capitalised sentences, commas, numbers and a little code-like text,
    so that byte-level BPE learns a realistic mix of merges."""
    rng = random.Random(seed)
    lexicon: list[str] = []
    seen = set()
    while len(lexicon) < 6000:
        word = "".join(rng.choice(_ONSETS) + rng.choice(_NUCLEI) + rng.choice(_CODAS)
                       for _ in range(rng.choice((1, 1, 2, 2, 2, 3, 3, 4))))
        if word not in seen:
            seen.add(word)
            lexicon.append(word)
    cum_weights = list(itertools.accumulate(1.0 / (rank + 1) for rank in range(len(lexicon))))
    lines = []
    for _ in range(n_sentences):
        words = rng.choices(lexicon, cum_weights=cum_weights, k=rng.randint(4, 18))
        if rng.random() < 0.3:
            words.insert(rng.randrange(len(words)), str(rng.randint(0, 99999)))
        if rng.random() < 0.2:
            words.insert(rng.randrange(1, len(words)), words.pop(0) + ",")
        sentence = " ".join(words)
        sentence = sentence[0].upper() + sentence[1:] + rng.choice(_PUNCT_END)
        if rng.random() < 0.05:
            name = rng.choice(lexicon[:500])
            sentence = f"def {name}(x, y={rng.randint(0, 9)}):\n    return x * y + {rng.randint(0, 999)}"
        lines.append(sentence)
    return lines


# ---------------------------------------------------------------- tokenizer

def build_tokenizer(seed: int):
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, processors, trainers

    tok = Tokenizer(models.BPE(unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=VOCAB_SIZE,
        min_frequency=2,
        special_tokens=SPECIAL_TOKENS,
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(make_corpus(seed), trainer=trainer)
    if tok.get_vocab_size() != VOCAB_SIZE:
        raise SystemExit(f"build_tiny_model: trained vocabulary has {tok.get_vocab_size()} tokens, "
                         f"want {VOCAB_SIZE}: the generated corpus is too small")
    for want_id, token in enumerate(SPECIAL_TOKENS):
        if tok.token_to_id(token) != want_id:
            raise SystemExit(f"build_tiny_model: special token {token} got id {tok.token_to_id(token)}, "
                             f"want {want_id}")
    # Llama-style: prepend <s> to every sequence (as Llama 3's tokenizer.json does).
    tok.post_processor = processors.Sequence([
        processors.ByteLevel(trim_offsets=False),
        processors.TemplateProcessing(
            single="<s> $A",
            pair="<s> $A <s>:1 $B:1",
            special_tokens=[("<s>", BOS_ID)],
        ),
    ])
    return tok


def tokenizer_config() -> dict:
    added = {}
    for i, token in enumerate(SPECIAL_TOKENS):
        added[str(i)] = {"content": token, "lstrip": False, "normalized": False,
                         "rstrip": False, "single_word": False, "special": True}
    return {
        "added_tokens_decoder": added,
        "bos_token": "<s>",
        "clean_up_tokenization_spaces": False,
        "eos_token": "</s>",
        "model_max_length": MAX_POS,
        "pad_token": "<pad>",
        "tokenizer_class": "PreTrainedTokenizerFast",
        "unk_token": "<unk>",
    }


def special_tokens_map() -> dict:
    return {"bos_token": "<s>", "eos_token": "</s>", "pad_token": "<pad>", "unk_token": "<unk>"}


# ---------------------------------------------------------------- model

def model_config(shape: dict) -> dict:
    return {
        "architectures": ["LlamaForCausalLM"],
        "model_type": "llama",
        "attention_bias": False,
        "attention_dropout": 0.0,
        "bos_token_id": BOS_ID,
        "eos_token_id": EOS_ID,
        "pad_token_id": PAD_ID,
        "head_dim": shape["hidden"] // shape["heads"],
        "hidden_act": "silu",
        "hidden_size": shape["hidden"],
        "initializer_range": INIT_STD,
        "intermediate_size": shape["intermediate"],
        "max_position_embeddings": MAX_POS,
        "mlp_bias": False,
        "num_attention_heads": shape["heads"],
        "num_hidden_layers": shape["layers"],
        "num_key_value_heads": shape["kv_heads"],
        "pretraining_tp": 1,
        "rms_norm_eps": RMS_EPS,
        # transformers >= 5 reads rope_parameters, 4.x reads rope_theta / rope_scaling.
        "rope_parameters": {"rope_theta": ROPE_THETA, "rope_type": "default"},
        "rope_scaling": None,
        "rope_theta": ROPE_THETA,
        "tie_word_embeddings": False,
        # "dtype" is read by transformers >= 4.56 (vLLM needs >= 4.56); "torch_dtype" would only
        # add a deprecation warning there.
        "dtype": "bfloat16",
        "use_cache": True,
        "vocab_size": VOCAB_SIZE,
    }


def generation_config() -> dict:
    # No max_new_tokens / sampling defaults on purpose: engines read this file
    # (vLLM turns it into default SamplingParams) and the benchmark sets them.
    return {"bos_token_id": BOS_ID, "eos_token_id": EOS_ID, "pad_token_id": PAD_ID}


def weight_shapes(shape: dict) -> list[tuple[str, tuple[int, ...], str]]:
    """(name, shape, init) in a fixed order; init is "normal" or "ones"."""
    hidden, heads, inter = shape["hidden"], shape["heads"], shape["intermediate"]
    head_dim = hidden // heads
    kv = shape["kv_heads"] * head_dim
    shapes = [("model.embed_tokens.weight", (VOCAB_SIZE, hidden), "normal")]
    for i in range(shape["layers"]):
        p = f"model.layers.{i}."
        shapes += [
            (p + "input_layernorm.weight", (hidden,), "ones"),
            (p + "self_attn.q_proj.weight", (heads * head_dim, hidden), "normal"),
            (p + "self_attn.k_proj.weight", (kv, hidden), "normal"),
            (p + "self_attn.v_proj.weight", (kv, hidden), "normal"),
            (p + "self_attn.o_proj.weight", (hidden, heads * head_dim), "normal"),
            (p + "post_attention_layernorm.weight", (hidden,), "ones"),
            (p + "mlp.gate_proj.weight", (inter, hidden), "normal"),
            (p + "mlp.up_proj.weight", (inter, hidden), "normal"),
            (p + "mlp.down_proj.weight", (hidden, inter), "normal"),
        ]
    shapes += [("model.norm.weight", (hidden,), "ones"),
               ("lm_head.weight", (VOCAB_SIZE, hidden), "normal")]
    return shapes


def build_weights(seed: int, size: str = "tiny") -> dict:
    import numpy as np
    import torch

    if size == "tiny":
        rs = np.random.RandomState(seed)  # legacy stream: frozen by NumPy's compatibility policy

        def normal(shape):
            return (rs.standard_normal(size=shape) * INIT_STD).astype(np.float32)
    else:
        # A billion values: float32 straight from the ziggurat, seconds not minutes.
        gen = np.random.Generator(np.random.PCG64(seed))

        def normal(shape):
            arr = gen.standard_normal(size=shape, dtype=np.float32)
            arr *= INIT_STD
            return arr
    tensors = {}
    for name, shape, init in weight_shapes(SIZES[size]):
        arr = np.ones(shape, dtype=np.float32) if init == "ones" else normal(shape)
        # float32 -> bfloat16 is round-to-nearest-even in torch: deterministic.
        tensors[name] = torch.from_numpy(arr).to(torch.bfloat16).contiguous()
    return tensors


# ---------------------------------------------------------------- main

def build(out: str, seed: int, size: str = "tiny") -> None:
    from safetensors.torch import save_file

    parent = os.path.dirname(os.path.abspath(out)) or "."
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".tiny-model-", dir=parent)
    try:
        tok = build_tokenizer(seed)
        tok.save(os.path.join(tmp, "tokenizer.json"), pretty=True)
        write_json(os.path.join(tmp, "tokenizer_config.json"), tokenizer_config())
        write_json(os.path.join(tmp, "special_tokens_map.json"), special_tokens_map())
        write_json(os.path.join(tmp, "config.json"), model_config(SIZES[size]))
        write_json(os.path.join(tmp, "generation_config.json"), generation_config())
        save_file(build_weights(seed, size), os.path.join(tmp, "model.safetensors"), metadata={"format": "pt"})
        with open(os.path.join(tmp, STAMP_NAME), "w", encoding="utf-8") as f:
            f.write(stamp_text(seed, size))
        for name in os.listdir(tmp):
            os.chmod(os.path.join(tmp, name), 0o644)
        os.chmod(tmp, 0o755)
        # Replace DIR as a whole so an interrupted build never leaves a half model behind.
        if os.path.isdir(out):
            old = out.rstrip("/") + ".old-" + str(os.getpid())
            os.rename(out, old)
            os.rename(tmp, out)
            shutil.rmtree(old, ignore_errors=True)
        else:
            os.rename(tmp, out)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description="Build a tiny random-weight Llama model (offline, deterministic).")
    ap.add_argument("--out", required=True, help="output directory (created or replaced)")
    ap.add_argument("--seed", type=int, default=0, help="seed for the corpus and the weights (default 0)")
    ap.add_argument("--size", choices=sorted(SIZES), default="tiny",
                    help="tiny (1.3 M parameters, the default: CPU tests) or 1b (0.99 B: GPU checks)")
    ap.add_argument("--force", action="store_true", help="rebuild even if the stamp matches")
    args = ap.parse_args(argv)

    out = os.path.abspath(args.out)
    if os.path.exists(out) and not os.path.isdir(out):
        print(f"build_tiny_model: {out} exists and is not a directory", file=sys.stderr)
        return 2
    if os.path.isdir(out):
        foreign = sorted(set(os.listdir(out)) - set(OUTPUT_FILES) - {STAMP_NAME})
        if foreign:
            print(f"build_tiny_model: refusing to replace {out}: it holds files this script did not "
                  f"write ({', '.join(foreign[:5])})", file=sys.stderr)
            return 2
    stamp = stamp_text(args.seed, args.size)
    if not args.force and up_to_date(out, stamp):
        print(f"build_tiny_model: {out} is up to date (seed {args.seed}, size {args.size})", file=sys.stderr)
        return 0
    # Keep the BPE trainer single-threaded and quiet.
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    os.environ.setdefault("RAYON_NUM_THREADS", "1")
    t0 = time.monotonic()
    try:
        build(out, args.seed, args.size)
    except ImportError as e:
        print(f"build_tiny_model: missing Python package ({e}); run it with the CPU-tier venv's python "
              f"(scripts/setup-venv.sh .venv/cpu requirements.txt)", file=sys.stderr)
        return 1
    print(f"build_tiny_model: built {out} (seed {args.seed}, size {args.size}) in {time.monotonic() - t0:.1f}s", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

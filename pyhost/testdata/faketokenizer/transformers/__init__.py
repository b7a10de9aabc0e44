"""TEST DOUBLE of transformers' tokenizer API: see ../README.md."""

import json
import os
import zlib

__version__ = "0.0.0+fake"
__enginebench_fake__ = True


class FakeTokenizer:
    def __init__(self, vocab_size, bos):
        self.vocab_size = vocab_size
        self.bos = bos

    def __len__(self):
        return self.vocab_size

    def _encode(self, text, add_special_tokens):
        ids = [3 + zlib.crc32(w.encode()) % (self.vocab_size - 3) for w in text.split()]
        return ([self.bos] if add_special_tokens else []) + ids

    def __call__(self, texts, add_special_tokens=True):
        if isinstance(texts, str):
            return {"input_ids": self._encode(texts, add_special_tokens)}
        return {"input_ids": [self._encode(t, add_special_tokens) for t in texts]}


class AutoTokenizer:
    @classmethod
    def from_pretrained(cls, path, **kwargs):
        with open(os.path.join(path, "config.json")) as f:
            cfg = json.load(f)
        return FakeTokenizer(int(cfg["vocab_size"]), int(cfg.get("bos_token_id", 1)))

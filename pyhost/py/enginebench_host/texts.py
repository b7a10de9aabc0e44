"""Turns a dataset's texts into token IDs once, with the model's own tokenizer.

The parent writes the texts to a file and starts a short-lived process that
calls ``tokenize``; the token IDs it writes become the workload, so no engine
ever tokenizes and every engine gets the very same IDs.
"""

import json


def tokenize(arg):
    """Reads {"prompts": [str], "replies": [str or null]} from arg["in"],
    tokenizes with the tokenizer of arg["model"], and writes
    {"prompts": [[id]], "reply_tokens": [int, -1 without a reply]} to
    arg["out"]. Prompts get the tokenizer's special tokens (BOS), as a user's
    request would; replies are counted without them, as an engine counts the
    tokens it generates. Returns the tokenizer's class, the transformers
    version and the tokenizer's vocabulary size."""
    import transformers

    tok = transformers.AutoTokenizer.from_pretrained(arg["model"])
    with open(arg["in"], encoding="utf-8") as f:
        doc = json.load(f)
    prompts, replies = doc["prompts"], doc["replies"]
    if len(prompts) != len(replies):
        raise ValueError(f"{len(prompts)} prompts but {len(replies)} replies")
    # One call per list: a fast tokenizer encodes a list in parallel.
    prompt_ids = tok(prompts, add_special_tokens=True)["input_ids"] if prompts else []
    have = [i for i, r in enumerate(replies) if r is not None]
    reply_ids = tok([replies[i] for i in have], add_special_tokens=False)["input_ids"] if have else []
    reply_tokens = [-1] * len(replies)
    for i, ids in zip(have, reply_ids):
        reply_tokens[i] = len(ids)
    with open(arg["out"], "w", encoding="utf-8") as f:
        json.dump({"prompts": [list(map(int, p)) for p in prompt_ids], "reply_tokens": reply_tokens}, f)
    return {
        "class": type(tok).__name__,
        "transformers": getattr(transformers, "__version__", ""),
        "vocab_size": len(tok),
    }

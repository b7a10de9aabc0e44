"""One user turn, one assistant gen: SGLang's chat program.

The tiny test model has random weights, so its free text is gibberish; this
program has no check (programs_valid is null)."""
import random

import sglang as sgl

TOPICS = ["the weather", "a recipe for bread", "the history of Rome", "how engines work", "a good book", "the ocean"]


@sgl.function
def program(s, question):
    s += sgl.user(question)
    s += sgl.assistant(sgl.gen("answer", max_tokens=32, temperature=0))


def arguments(n, seed):
    rng = random.Random(seed)
    return [{"question": f"Tell me about {rng.choice(TOPICS)} ({i})."} for i in range(n)]

"""A two-turn conversation: the second question follows the first answer."""
import random

import sglang as sgl

FIRST = ["Name a city.", "Name a colour.", "Name an animal.", "Name a fruit."]


@sgl.function
def program(s, first, second):
    s += sgl.user(first)
    s += sgl.assistant(sgl.gen("answer_1", max_tokens=16, temperature=0))
    s += sgl.user(second)
    s += sgl.assistant(sgl.gen("answer_2", max_tokens=16, temperature=0))


def arguments(n, seed):
    rng = random.Random(seed)
    return [{"first": rng.choice(FIRST), "second": f"Why that one? ({i})"} for i in range(n)]


def check(state):
    # Both turns answered.
    return bool(state["answer_1"]) and bool(state["answer_2"])

"""Fork and select: two branches generate in parallel, then a choice among
fixed answers is scored by the model's logprobs."""
import random

import sglang as sgl

CHOICES = ["yes", "no", "maybe"]


@sgl.function
def program(s, topic):
    s += f"Two short thoughts on {topic}.\n"
    forks = s.fork(2)
    for i, f in enumerate(forks):
        f += f"Thought {i + 1}: " + sgl.gen("thought", max_tokens=12, temperature=0, stop="\n")
    forks.join()
    s += "Is it interesting? " + sgl.select("verdict", choices=CHOICES)


def arguments(n, seed):
    rng = random.Random(seed)
    return [{"topic": f"topic {rng.randint(0, 10_000)}"} for _ in range(n)]


def check(state):
    return state["verdict"] in CHOICES

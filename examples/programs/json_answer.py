"""A JSON-schema answer: constrained decoding makes even random weights give
valid JSON, and check() parses it."""
import json
import random

import sglang as sgl

SCHEMA = json.dumps({
    "type": "object",
    "properties": {
        "name": {"type": "string", "pattern": "^[A-Za-z]{1,10}$"},
        "age": {"type": "integer", "minimum": 0, "maximum": 120},
    },
    "required": ["name", "age"],
    "additionalProperties": False,
})


@sgl.function
def program(s, person):
    s += sgl.user(f"Describe {person} as JSON with a name and an age.")
    s += sgl.assistant(sgl.gen("json", max_tokens=64, temperature=0, json_schema=SCHEMA))


def arguments(n, seed):
    rng = random.Random(seed)
    return [{"person": f"person number {rng.randint(0, 10_000)}"} for _ in range(n)]


def check(state):
    doc = json.loads(state["json"])
    return isinstance(doc.get("name"), str) and isinstance(doc.get("age"), int)

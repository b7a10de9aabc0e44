"""The program file's checks (enginebench_host.frontend.load_program and
make_arguments): each bad file is refused naming the fix, before any engine
loads. Run with a python that has SGLang's frontend; PYTHONPATH=pyhost/py."""

import os
import sys

from enginebench_host import frontend
from enginebench_host.engines.base import ConfigError

HERE = os.path.dirname(os.path.abspath(__file__))
CASES = {
    "no_program.py": "defines no `program`",
    "syntax.py": "syntax error at line 3",
    "plain_function.py": "not an SGLang program: decorate it with @sglang.function",
    "no_arguments.py": "defines no `arguments(n, seed)`",
    "wrong_count.py": "returned 5 dicts, want 4",
    "wrong_type.py": "returned a dict; return a list of 4 dicts",
    "unknown_key.py": "has ['question'], which `program` does not take (it takes ['q'])",
    "missing.py": "no such file",
}
failed = 0
for name, want in CASES.items():
    try:
        frontend.make_arguments(os.path.join(HERE, "bad", name), 4, 0)
    except ConfigError as exc:
        if want not in str(exc):
            failed += 1
            print(f"FAIL {name}: {exc!s} lacks {want!r}")
        else:
            print(f"ok {name}")
    else:
        failed += 1
        print(f"FAIL {name}: accepted")
good = frontend.make_arguments(os.path.join(HERE, "..", "..", "..", "examples", "programs", "chat.py"), 3, 7)
assert good == frontend.make_arguments(os.path.join(HERE, "..", "..", "..", "examples", "programs", "chat.py"), 3, 7)
assert len(good) == 3 and all(set(a) == {"question"} for a in good), good
print("ok arguments are the same for the same n and seed")
sys.exit(1 if failed else 0)

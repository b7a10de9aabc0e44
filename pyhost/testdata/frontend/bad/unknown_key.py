import sglang as sgl
@sgl.function
def program(s, q):
    s += q
def arguments(n, seed):
    return [{"question": "x"}] * n

import sglang as sgl
@sgl.function
def program(s, q)
    s += q

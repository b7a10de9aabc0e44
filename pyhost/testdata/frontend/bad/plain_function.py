def program(s, q):
    s += q
def arguments(n, seed):
    return [{"q": "x"}] * n

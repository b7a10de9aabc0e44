def arguments(n, seed):
    return [{}] * n

"""Helpers shared by the bench clients (standard library only)."""
import time


def timed(fn, n):
    """Runs fn n times; the wall time of each run in milliseconds."""
    out = []
    for _ in range(n):
        t = time.perf_counter()
        fn()
        out.append((time.perf_counter() - t) * 1000)
    return out

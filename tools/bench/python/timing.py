"""Timing shared by the PyTorch reference scripts, the same rule as the TypeScript harness (harness.ts)."""
import math
import time

WINDOWS = 5  # the best of 5 windows sharing the budget is reported


def timed(step, seconds: float, warmup_seconds: float):
    """Runs step() for warmup_seconds (at least once), then WINDOWS timed windows of at least one
    iteration each; returns (iterations, seconds) of the fastest window."""
    end = time.perf_counter() + warmup_seconds
    step()
    while time.perf_counter() < end:
        step()
    window = seconds / WINDOWS
    best = (0, math.inf)
    for _ in range(WINDOWS):
        iterations = 0
        start = time.perf_counter()
        while True:
            step()
            iterations += 1
            if time.perf_counter() - start >= window:
                break
        elapsed = time.perf_counter() - start
        if iterations / elapsed > best[0] / best[1]:
            best = (iterations, elapsed)
    return best

"""What the PyTorch reference scripts share: the harness's timing rule (harness.ts), the common flags and the
result line they print."""
import argparse
import json
import math
import time

import torch

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


def parser(doc: str, workloads) -> argparse.ArgumentParser:
    """An argument parser with the flags every reference script takes (the harness passes them)."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--workload", choices=list(workloads), required=True)
    p.add_argument("--seconds", type=float, default=5.0, help="timed wall-clock budget")
    p.add_argument("--warmup-seconds", type=float, default=1.0)
    p.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object")
    return p


def setup(args) -> None:
    """Applies --threads and --seed."""
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)


def report(args, result: dict) -> int:
    """Prints the result as the harness reads it (--json) or as a line for people; returns the exit status."""
    result = {"workload": args.workload, **result, "threads": torch.get_num_threads(), "torch": torch.__version__}
    if args.json:
        print(json.dumps(result))
    else:
        extra = f", {result['params']} parameters" if "params" in result else ""
        print(f"{args.workload}: {result['value']:.2f} {result['unit']} ({result['iterations']} iterations in "
              f"{result['seconds']:.2f}s{extra}, torch {result['torch']}, {result['threads']} thread(s))")
    return 0

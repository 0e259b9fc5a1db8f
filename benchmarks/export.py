"""Benchmark: ``AvatarStudio.render_png`` at the export sizes (PNG encoding included), 1 and 2 threads.

Example:
    python -m benchmarks.export --weights weights/avatar-studio --n 30
    python -m benchmarks.export --n 30 --threads 1 2 --out /tmp/export.json

Avatar i is ``{"seed": i, "spec": {}}`` at each size; after a warm-up each call is timed alone and
the median is reported, per torch thread count, against the goals (512 px <= 60 ms, 1024 px
<= 200 ms), with the process's CPU time per call (on a busy machine wall time waits for a core;
with 2 threads CPU time counts both). Prints a JSON object (--out writes it too).
"""
from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

import benchmarks  # noqa: F401  (the package tunes the CPU before torch starts)
import torch

from avatar_studio import AvatarStudio
from benchmarks import report

GOALS_MS = {512: 60.0, 1024: 200.0}
SIZES = (128, 256, 512, 1024)
WARMUP = 3


def benchmark(studio: AvatarStudio, n: int, threads: list[int]) -> dict:
    out: dict = {"model": studio.model_id, "upsampler": studio.upsampler is not None, "n": n, "runs": []}
    before = torch.get_num_threads()
    try:
        for t in threads:
            torch.set_num_threads(t)
            row: dict = {"threads": t, "median_ms": {}, "p90_ms": {}, "median_cpu_ms": {}}
            for size in SIZES:
                for i in range(WARMUP):
                    studio.render_png({"seed": i, "spec": {}, "size": size})
                times, cpu = [], []
                for i in range(n):
                    start, cpu_start = time.perf_counter(), time.process_time()
                    studio.render_png({"seed": i, "spec": {}, "size": size})
                    times.append((time.perf_counter() - start) * 1000)
                    cpu.append((time.process_time() - cpu_start) * 1000)
                row["median_ms"][size] = round(statistics.median(times), 1)
                row["p90_ms"][size] = round(sorted(times)[int(0.9 * (n - 1))], 1)
                row["median_cpu_ms"][size] = round(statistics.median(cpu), 1)  # this process's CPU time
            row["met"] = all(row["median_ms"][s] <= g for s, g in GOALS_MS.items())
            out["runs"].append(row)
    finally:
        torch.set_num_threads(before)
    out["goals_ms"] = GOALS_MS
    return out


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path("weights/avatar-studio"))
    parser.add_argument("--n", type=int, default=30, help="timed calls per size (default 30)")
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2], help="torch thread counts (default 1 2)")
    parser.add_argument("--out", type=Path, default=None)
    args = parser.parse_args(argv)
    report(benchmark(AvatarStudio.from_pretrained(args.weights, device="cpu"), args.n, args.threads), args.out)


if __name__ == "__main__":
    main()

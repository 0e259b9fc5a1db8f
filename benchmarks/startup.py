"""Benchmark: app start-up with every art style loaded, against the main style alone.

Example:
    python -m benchmarks.startup --weights weights/avatar-studio --n 5
    python -m benchmarks.startup --weights /tmp/styles/weights/avatar-studio --n 7 --out /tmp/startup.json

Each run is a fresh Python process doing what ``python app.py`` does before it serves: import the
package and torch, ``AvatarStudio.from_pretrained`` (checksums, strict loads), one warm-up
``render_png`` and ``build_demo`` (the page, with the style picker when several styles are loaded).
The two kinds alternate (main style only: ``styles=[]``; every style folder beside --weights), so
both see the same machine load. Prints both medians, the ratio (goal: <= 1.5) and a JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
GOAL = 1.5
# one start-up, as app.py does it (styles=None: every style folder beside the weights)
CHILD = """
import sys, time
import avatar_studio
avatar_studio.tune_cpu()
from avatar_studio import AvatarStudio
from avatar_studio.ui import build_demo
studio = AvatarStudio.from_pretrained(sys.argv[1], styles=None if sys.argv[2] == "all" else [])
studio.render_png({"seed": 0, "spec": {}})
build_demo(studio)
print(",".join(studio.styles))
"""


def start_once(weights: Path, kind: str) -> tuple[float, str]:
    """Wall seconds of one fresh start-up and the styles it loaded."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    t0 = time.perf_counter()
    out = subprocess.run([sys.executable, "-c", CHILD, str(weights), kind], env=env, capture_output=True, text=True,
                         cwd=ROOT)
    seconds = time.perf_counter() - t0
    if out.returncode != 0:
        raise SystemExit(f"start-up failed ({kind}): {out.stderr.strip().splitlines()[-1:]}")
    return seconds, out.stdout.strip().splitlines()[-1]


def benchmark(weights: Path, n: int) -> dict:
    start_once(weights, "all")  # warm the file cache for both
    times: dict[str, list[float]] = {"main": [], "all": []}
    styles: dict[str, str] = {}
    for _ in range(n):
        for kind in ("main", "all"):
            seconds, styles[kind] = start_once(weights, kind)
            times[kind].append(seconds)
    medians = {k: statistics.median(v) for k, v in times.items()}
    ratio = statistics.median(a / m for a, m in zip(times["all"], times["main"]))
    return {"weights": str(weights), "n": n, "styles": {k: v.split(",") for k, v in styles.items()},
            "median_s": medians, "ratio_all_vs_main": ratio, "goal": GOAL, "met": ratio <= GOAL,
            "seconds": times}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.startup", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=ROOT / "weights" / "avatar-studio",
                        help="the main weights folder; the style folders beside it are loaded too")
    parser.add_argument("--n", type=int, default=5, help="start-ups of each kind (alternating)")
    parser.add_argument("--out", type=Path, help="also write the JSON here")
    args = parser.parse_args(argv)
    result = benchmark(args.weights, args.n)
    if len(result["styles"]["all"]) < 2:
        print(f"note: no style folders beside {args.weights}: both kinds load {result['styles']['all']}")
    print(f"start-up, main style only ({result['styles']['main'][0]}): {result['median_s']['main']:.2f} s median")
    print(f"start-up, every style ({', '.join(result['styles']['all'])}): {result['median_s']['all']:.2f} s median")
    print(f"ratio (pair by pair, median): {result['ratio_all_vs_main']:.2f} (goal <= {GOAL})")
    line = json.dumps(result)
    print(line)
    if args.out:
        args.out.write_text(line + "\n")


if __name__ == "__main__":
    main()

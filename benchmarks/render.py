"""Benchmark: render throughput of train.render_dataset against a bare DiceBear + resvg loop.

Example:
    python -m benchmarks.render --n 400 --size 128
    python -m benchmarks.render --n 400 --size 128 --workers 2 --out /tmp/render.json
    python -m benchmarks.render --n 200 --size 128 --style big-smile --workers 1

Both render the same labels (train.render_dataset.draw_labels) and write one PNG file per
avatar into a temporary folder, in the same run: first the bare single-process loop
(render_png + write), then the dataset renderer (all cores by default). Prints avatars/s of
both and their ratio (goal: >= 1.5x) and a JSON line; --out writes the JSON too.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

from train import styles
from train.render_dataset import draw_labels, render_dataset

GOAL = 1.5


def bare_loop(out: Path, n: int, size: int, seed: int, style: str = "avataaars") -> float:
    """Seconds for the plain loop: draw labels, render with DiceBear + resvg, write the PNG."""
    out.mkdir(parents=True, exist_ok=True)
    vocab = styles.vocabulary(style)
    t = time.perf_counter()
    for i in range(n):
        labels, hidden = draw_labels(seed, i, vocab)
        (out / f"{i:06d}.png").write_bytes(styles.render_png(style, labels, hidden, size))
    return time.perf_counter() - t


def benchmark(n: int, size: int, seed: int = 0, workers: int | None = None, style: str = "avataaars") -> dict:
    labels, hidden = draw_labels(seed, 0, styles.vocabulary(style))
    styles.render_png(style, labels, hidden, size)  # warm-up: load the style once (workers fork after it)
    with tempfile.TemporaryDirectory() as tmp:
        bare_s = bare_loop(Path(tmp) / "bare", n, size, seed, style)
        t = time.perf_counter()
        render_dataset(Path(tmp) / "pipeline", n, size, seed, workers=workers, progress=False, style=style)
        pipeline_s = time.perf_counter() - t
        same = all((Path(tmp) / "bare" / f"{i:06d}.png").read_bytes()
                   == (Path(tmp) / "pipeline" / f"{i:06d}.png").read_bytes() for i in range(n))
    bare, pipeline = n / bare_s, n / pipeline_s
    return {"style": style, "n": n, "size": size, "bare_ms_per_avatar": round(1000 * bare_s / n, 2),
            "workers": workers or os.cpu_count(), "cpu_count": os.cpu_count(),
            "bare_avatars_per_s": round(bare, 2), "render_dataset_avatars_per_s": round(pipeline, 2),
            "ratio": round(pipeline / bare, 3), "goal": GOAL, "met": pipeline / bare >= GOAL,
            "identical_images": same}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.render", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--n", type=int, default=400, help="avatars per method (default 400)")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels (default 128)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--style", default="avataaars", choices=styles.NAMES, help="DiceBear style")
    parser.add_argument("--workers", type=int, default=None, help="render_dataset processes (default: all cores)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.n < 1 or args.size < 8:
        parser.error("--n must be >= 1 and --size >= 8")
    r = benchmark(args.n, args.size, args.seed, args.workers, args.style)
    print(f"{r['style']}: bare DiceBear+resvg loop (1 process): {r['bare_avatars_per_s']:.1f} avatars/s "
          f"({r['bare_ms_per_avatar']:.2f} ms an avatar)")
    print(f"train.render_dataset ({r['workers']} workers):   {r['render_dataset_avatars_per_s']:.1f} avatars/s")
    print(f"ratio {r['ratio']:.2f}x (goal >= {GOAL}x: {'met' if r['met'] else 'NOT met'}); "
          f"identical images: {r['identical_images']}")
    print(json.dumps(r))
    if args.out:
        args.out.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()

"""Benchmark: studio.design at batch 1 against DiceBear + resvg rendering the same avatar.

Example:
    python -m benchmarks.design --weights weights/avatar-studio --n 50
    python -m benchmarks.design --weights weights/avatar-studio --n 200 --out /tmp/design.json
    python -m benchmarks.design --weights weights/big-smile             # a style folder: its own style
    python -m benchmarks.design --weights weights/avatar-studio --style micah   # weights/micah beside it

Avatar i is ``studio.resolve({}, seed=i)`` (a full spec) with one draw of the unlabelled
choices for DiceBear. After a warm-up, each iteration times ``studio.design(spec, seed)``
and ``render_png`` + PNG decode to a PIL RGBA image at the model's native size, in
alternating order, so both see the same machine load. Prints both medians and the ratio
(goal: design <= 2x DiceBear), batch-8 throughput of design_batch, and the time of
encoding one avatar to PNG; then a JSON line (--out writes it too).
"""
from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import torch

from avatar_studio import AvatarStudio
from avatar_studio.imaging import png_bytes
from train import styles
from train.evaluate import other_hidden, render_image

GOAL = 2.0
WARMUP = 3
BATCH = 8


def _ms(fn) -> float:
    t = time.perf_counter()
    fn()
    return (time.perf_counter() - t) * 1000


def benchmark(studio: AvatarStudio, n: int, style: str = "avataaars") -> dict:
    size = studio.model(style).config.resolution
    specs = [studio.resolve({"style": style}, seed=i) for i in range(n)]
    hidden = [other_hidden(i, style=style) for i in range(n)]
    for i in range(WARMUP):
        studio.design(specs[i % n], seed=i)
        render_image(specs[i % n], hidden[i % n], size, style)
    methods = {"design": lambda i: studio.design(specs[i], seed=i),
               "render": lambda i: render_image(specs[i], hidden[i], size, style)}
    times = {name: [] for name in methods}
    for i in range(n):
        for name in (("design", "render") if i % 2 == 0 else ("render", "design")):
            times[name].append(_ms(lambda: methods[name](i)))
    batches = max(3, n // BATCH)
    batch_ms = [_ms(lambda: studio.design_batch([specs[(b * BATCH + j) % n] for j in range(BATCH)],
                                                [b * BATCH + j for j in range(BATCH)]))
                for b in range(batches)]
    image = studio.design(specs[0], seed=0)
    png_ms = [_ms(lambda: png_bytes(image)) for _ in range(max(5, n // 2))]
    d, r = statistics.median(times["design"]), statistics.median(times["render"])
    return {"style": style, "n": n, "size": size, "threads": torch.get_num_threads(),
            "device": str(studio.device),
            "design_ms_median": round(d, 3), "dicebear_resvg_ms_median": round(r, 3),
            "ratio": round(d / r, 3), "goal": GOAL, "met": d / r <= GOAL,
            "batch8_avatars_per_s": round(BATCH / (statistics.median(batch_ms) / 1000), 2),
            "png_encode_ms_median": round(statistics.median(png_ms), 3)}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.design", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="weights folder (weights/NAME)")
    parser.add_argument("--n", type=int, default=50, help="timed avatars per method (default 50)")
    parser.add_argument("--device", default="cpu", help="torch device of the model (default cpu)")
    parser.add_argument("--style", default=None, choices=styles.NAMES,
                        help="style to time (default: the one the --weights folder draws)")
    parser.add_argument("--out", type=Path, default=None, help="also write the JSON here")
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("--n must be >= 1")
    studio = AvatarStudio.from_pretrained(args.weights, device=args.device)
    r = benchmark(studio, args.n, args.style or studio.vocab.style_name)
    print(f"studio.design, batch 1 ({r['size']} px): median {r['design_ms_median']:.2f} ms")
    print(f"DiceBear+resvg -> PIL ({r['size']} px): median {r['dicebear_resvg_ms_median']:.2f} ms")
    print(f"ratio {r['ratio']:.2f}x (goal <= {GOAL}x: {'met' if r['met'] else 'NOT met'}); "
          f"batch {BATCH}: {r['batch8_avatars_per_s']:.1f} avatars/s; PNG encode {r['png_encode_ms_median']:.2f} ms")
    print(json.dumps(r))
    if args.out:
        args.out.write_text(json.dumps(r, indent=1) + "\n")


if __name__ == "__main__":
    main()

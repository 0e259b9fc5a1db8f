"""Measure what each slider direction visibly changes, per kind of avatar: the figures behind the
sliders' names (assets/labels.json, "sliders").

Example:
    python -m train.evaluate_directions --weights weights/avatar-studio --n 24 --amount 2

For every direction, and for four kinds of avatar (with / without a hat, with / without glasses),
``--n`` seeds are drawn at slider -amount and +amount; per kind it prints the share of pixels whose
colour moves by more than 24/255 (in any channel), the mean change of those pixels (0-255), and
the mean colour of the changed pixels at both ends (so a name can say "darker" or "redder"). A
direction that changes pixels on every kind of avatar is named by that; one that changes only a
part should be shown with that part only.

``--steer N`` also measures the page's hat & glasses colour picker (``AvatarStudio.steer_color``):
for N seeds x 4 kinds x 8 target colours, the steered colour's error (largest channel, 0-255) and
how often a slider hits its +-3 limit (a colour out of reach).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import torch

from avatar_studio.attributes import hex_to_rgb, rgb_to_hex
from avatar_studio.studio import AvatarStudio
from train.errors import TrainError, stage_main

MOVED = 24 / 255          # a pixel "changes" when a channel moves more than this
HATS = ("hat", "winterHat1", "winterHat02", "winterHat03", "winterHat04")
GLASSES = ("prescription01", "prescription02", "round", "wayfarers", "kurt")
HAIR = ("bob", "shortFlat", "curly", "straight01", "bun")


def kinds(studio: AvatarStudio) -> dict[str, list[dict]]:
    """Four kinds of avatar, as lists of specs (hair and accessories fixed, the rest "any")."""
    hats = [h for h in HATS if h in studio.attributes.get("hair", [])]
    hair = [h for h in HAIR if h in studio.attributes.get("hair", [])]
    glasses = [g for g in GLASSES if g in studio.attributes.get("accessories", [])]
    if not (hats and hair and glasses):
        raise TrainError("the model's vocabulary lacks hats, plain hair or glasses: nothing to compare")
    return {"hat, glasses": [{"hair": h, "accessories": g} for h in hats for g in glasses],
            "hat, no glasses": [{"hair": h, "accessories": "none"} for h in hats],
            "no hat, glasses": [{"hair": h, "accessories": g} for h in hair for g in glasses],
            "no hat, no glasses": [{"hair": h, "accessories": "none"} for h in hair]}


def measure(studio: AvatarStudio, n: int, amount: float) -> dict:
    """direction -> kind -> {changed share, mean change, colour at -amount, colour at +amount}."""
    report: dict[str, dict] = {}
    for name in studio.sliders:
        report[name] = {}
        for kind, specs in kinds(studio).items():
            seeds = list(range(n))
            chosen = [specs[i % len(specs)] for i in seeds]
            lo = studio.design_batch(chosen, seeds, sliders={name: -amount})
            hi = studio.design_batch(chosen, seeds, sliders={name: amount})
            a, b = (torch.from_numpy(np.stack([np.asarray(im, dtype=np.float32) / 255 for im in ims]))
                    for ims in (lo, hi))                                            # (N, R, R, 4) each
            opaque = (a[..., 3] > 0.5) & (b[..., 3] > 0.5)                          # (N, R, R)
            delta = (b[..., :3] - a[..., :3]).abs().amax(-1)                        # (N, R, R)
            moved = opaque & (delta > MOVED)
            share = float(moved.sum() / opaque.sum().clamp(min=1))
            mean = float(delta[moved].mean() * 255) if moved.any() else 0.0
            report[name][kind] = {
                "changed_share": round(share, 4), "mean_change": round(mean, 1),
                "colour_low": rgb_to_hex(tuple(a[..., :3][moved].mean(0).tolist())) if moved.any() else None,
                "colour_high": rgb_to_hex(tuple(b[..., :3][moved].mean(0).tolist())) if moved.any() else None}
    return report


TARGETS = ("#d93b3b", "#3f6fd8", "#4caf50", "#f2d13d", "#2c1b18", "#ffffff", "#8e5bd0", "#ff488e")


def measure_steer(studio: AvatarStudio, seeds: int) -> dict:
    """The colour picker's error over seeds x kinds x TARGETS (largest channel, 0-255)."""
    errors, limited = [], 0
    for kind, specs in kinds(studio).items():
        for seed in range(seeds):
            recipe = {"seed": seed, "spec": specs[seed % len(specs)]}
            for target in TARGETS:
                sliders = studio.steer_color(recipe, target)
                limited += any(abs(v) >= 3.0 for v in sliders.values())
                got = hex_to_rgb(studio.steered_color({**recipe, "sliders": sliders}))
                errors.append(max(abs(a - b) for a, b in zip(got, hex_to_rgb(target))) * 255)
    e = np.sort(np.array(errors))
    return {"picks": len(e), "median": round(float(np.median(e)), 1), "p90": round(float(np.percentile(e, 90)), 1),
            "worst": round(float(e[-1]), 1), "at_slider_limit": limited}


@stage_main("python -m train.evaluate_directions")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate_directions", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path("weights/avatar-studio"))
    parser.add_argument("--n", type=int, default=24, help="seeds per kind of avatar (default 24)")
    parser.add_argument("--amount", type=float, default=2.0, help="slider value, each way (default 2)")
    parser.add_argument("--steer", type=int, default=0, help="seeds per kind for the colour picker (default 0: skip)")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    studio = AvatarStudio.from_pretrained(args.weights, device="cpu")
    if not studio.sliders:
        raise TrainError(f"{args.weights} has no slider directions")
    report = measure(studio, args.n, args.amount)
    print(f"{'direction':16} {'kind':20} {'changed':>8} {'mean':>6}  colour -{args.amount:g} -> +{args.amount:g}")
    for name, per_kind in report.items():
        for kind, r in per_kind.items():
            print(f"{name:16} {kind:20} {r['changed_share']:8.1%} {r['mean_change']:6.1f}  "
                  f"{r['colour_low']} -> {r['colour_high']}")
    print(json.dumps(report))
    if args.steer:
        steer = measure_steer(studio, args.steer)
        print(f"hat & glasses picker, {steer['picks']} picks: error median {steer['median']}, 90th pct {steer['p90']}, "
              f"worst {steer['worst']} (0-255); a slider at its limit in {steer['at_slider_limit']}")


if __name__ == "__main__":
    raise SystemExit(main())

"""Benchmarks that print figures (``python -m benchmarks.<name> --help``); run them on a quiet machine.

    render   the dataset renderer against a bare DiceBear + resvg loop
    design   AvatarStudio.design at batch 1 against DiceBear + resvg, the same avatar
    load     the served app under load, with a full queue, and over a long soak
    export   render_png per export size (the learned upsampler), 1 and 2 threads
    fair_share   one client flooding the costliest events, another designing; RSS under made-up session ids

Each is an entry point: the package tunes the CPU before any of them imports torch.
"""
import json
from pathlib import Path

from avatar_studio.cpu import tune_cpu

tune_cpu()


def report(result: dict, out: Path | None) -> dict:
    """Print a benchmark's figures as JSON and, given ``--out``, write them there too (folders made)."""
    text = json.dumps(result, indent=1)
    print(text)
    if out:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text + "\n")
    return result

"""Stage 1: render a labelled avatar pack from a DiceBear style (default "avataaars").

Writes DIR/000000.png ... and DIR/metadata.jsonl (Hugging Face imagefolder: one JSON
object per line with "file_name", one key per attribute and one per unlabelled choice,
e.g. avataaars' hat_color, accessories_color, clothes_graphic), DIR/vocabulary.json
(attribute -> ordered choices, "unlabelled" -> ordered choices, each control's DiceBear
component / colour options, the artwork's credit) and DIR/render_config.json.
Styles: avataaars, big-smile, adventurer, micah (train/styles/).

Example:
    python -m train.render_dataset --out data/avatars --n 30000 --size 128 --seed 7
    python -m train.render_dataset --style big-smile --out data/big-smile128 --n 40000 --size 128 --seed 1

Every image's labels come from its own RNG stream (seed, index), so the same
arguments give the same bytes whatever the worker count, and an interrupted run
resumes by rendering only the images that are missing.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from contextlib import nullcontext
from multiprocessing import Pool
from pathlib import Path

import numpy as np
from tqdm import tqdm

from avatar_studio.attributes import wheel_color
from train import styles
from train.errors import TrainError, stage_main

METADATA = "metadata.jsonl"
VOCABULARY = "vocabulary.json"
RENDER_CONFIG = "render_config.json"


def draw_labels(seed: int, index: int, vocab: dict) -> tuple[dict, dict]:
    """Labels and unlabelled choices of image ``index``: uniform categoricals, mixed colours."""
    rng = np.random.default_rng([seed, index])
    labels = {name: str(rng.choice(choices)) for name, choices in vocab["categorical"].items()}
    for name, sources in vocab["color_sources"].items():
        source = sources[int(rng.random() * len(sources))] if len(sources) > 1 else sources[0]
        labels[name] = (str(rng.choice(vocab["palettes"][name])) if source == "palette"
                        else wheel_color(rng.random(), rng.random(), rng.random()))
    hidden = {name: str(rng.choice(choices)) for name, choices in vocab["unlabelled"].items()}
    return labels, hidden


def _render_one(job: tuple[str, str, int, int, int, dict]) -> dict:
    style, out, seed, size, index, vocab = job
    labels, hidden = draw_labels(seed, index, vocab)
    file_name = f"{index:06d}.png"
    path = Path(out) / file_name
    if not path.exists():  # resume: finished images are complete files (atomic rename)
        tmp = path.with_suffix(".png.tmp")
        tmp.write_bytes(styles.render_png(style, labels, hidden, size))
        os.replace(tmp, path)
    return {"file_name": file_name, **labels, **hidden}


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def render_dataset(out: Path, n: int, size: int, seed: int, workers: int | None = None,
                   progress: bool = True, style: str = "avataaars") -> Path:
    vocab = styles.vocabulary(style)  # (an unknown style stops here, before anything is written)
    out.mkdir(parents=True, exist_ok=True)
    config = {"style": style, "n": n, "size": size, "seed": seed}
    config_path = out / RENDER_CONFIG
    if config_path.exists():
        previous = json.loads(config_path.read_text())
        if previous != config:
            raise TrainError(f"{out} holds a render with other settings {previous}; "
                             f"use another --out or the same arguments to resume")
    _write_atomic(config_path, json.dumps(config, indent=1) + "\n")
    _write_atomic(out / VOCABULARY, json.dumps(vocab, indent=1) + "\n")

    jobs = [(style, str(out), seed, size, i, vocab) for i in range(n)]
    workers = workers or os.cpu_count() or 1
    bar = tqdm(total=n, desc="render", unit="img", disable=not progress)
    rows = []
    with Pool(workers) if workers > 1 else nullcontext() as pool:
        for row in (pool.imap(_render_one, jobs, chunksize=32) if pool else map(_render_one, jobs)):
            rows.append(row)
            bar.update(1)  # (its return value says whether the bar redrew: never filter on it)
    bar.close()
    _write_atomic(out / METADATA, "".join(json.dumps(r) + "\n" for r in rows))
    return out


@stage_main("python -m train.render_dataset")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m train.render_dataset", description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--style", default="avataaars", choices=styles.NAMES, help="DiceBear style")
    parser.add_argument("--out", type=Path, required=True, help="output folder")
    parser.add_argument("--n", type=int, required=True, help="number of avatars")
    parser.add_argument("--size", type=int, default=128, help="image side in pixels")
    parser.add_argument("--seed", type=int, default=0, help="dataset seed")
    parser.add_argument("--workers", type=int, default=None, help="processes (default: all cores)")
    args = parser.parse_args(argv)
    if args.n < 1 or args.size < 8:
        parser.error("--n must be >= 1 and --size >= 8")
    render_dataset(args.out, args.n, args.size, args.seed, args.workers, progress=sys.stderr.isatty() or True,
                   style=args.style)


if __name__ == "__main__":
    sys.exit(main())

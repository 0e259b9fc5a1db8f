"""Measure train.label on a rendered folder with its labels hidden: the issue-15 figures.

Example:
    python -m train.evaluate_labels --data data/av4k --eval data/av_eval --per-class 10 --suggest 50

1. Tags: for every categorical attribute, ``--per-class`` random images of each class, tagged with
   that attribute only (so no class has more than that many tags); for every colour attribute,
   ``--per-class`` random images tagged with it.
2. ``train.label`` on the folder's images (labels never read) -> pseudo-label accuracy per
   attribute, on the images nobody tagged, and colour error (mean |RGB| difference, 0-255).
3. One ``--suggest K`` round: the K suggested images get every true attribute as tags, and
   ``train.label`` runs again (features from the cache: the second-run time).
4. The ceiling: train.classifier trained on ALL true labels of the folder, scored on ``--eval``
   (held-out renders). Ratio = pseudo-label accuracy / ceiling.
Prints a table and writes OUT/report.json. ``--write DIR`` also writes round 2's labels as
train.label writes them (DIR/metadata.jsonl, vocabulary.json, images/): the pseudo-labelled
training folder that train/own_art.json trains a generator on, next to one on the true labels.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch

from avatar_studio.attributes import hex_to_rgb
from train import classifier
from train.dataset import read_metadata
from train.errors import stage_main
from train.label import label, write_output


def make_tags(rows: list[dict], vocab, per_class: int, seed: int) -> dict[str, dict]:
    """file_name -> tags: ``per_class`` random images of every class (of every attribute)."""
    rng = np.random.default_rng(seed)
    tags: dict[str, dict] = {}
    for attribute, choices in vocab.categorical.items():
        values = np.array([r[attribute] for r in rows])
        for choice in choices:
            pool = np.flatnonzero(values == choice)
            for i in rng.choice(pool, min(per_class, len(pool)), replace=False):
                tags.setdefault(rows[i]["file_name"], {})[attribute] = choice
    for color in vocab.colors:
        for i in rng.choice(len(rows), per_class, replace=False):
            tags.setdefault(rows[i]["file_name"], {})[color] = rows[i][color]
    return tags


def write_tags(path: Path, tags: dict[str, dict]) -> None:
    path.write_text("".join(json.dumps({"file_name": f, **t}) + "\n" for f, t in tags.items()))


def score(result, rows: list[dict], tagged: set[str]) -> dict:
    """Accuracy per categorical attribute and colour error (0-255) on the untagged images."""
    truth = {r["file_name"]: r for r in rows}
    keep = [i for i, f in enumerate(result.files) if f not in tagged]
    acc = {a: float(np.mean([result.labels[i][a] == truth[result.files[i]][a] for i in keep]))
           for a in result.vocab.categorical}
    err = {c: float(np.mean([np.abs(np.array(hex_to_rgb(result.labels[i][c]))
                                    - np.array(hex_to_rgb(truth[result.files[i]][c]))).mean() * 255
                             for i in keep])) for c in result.vocab.colors}
    return {"untagged": len(keep), "accuracy": acc, "color_error": err}


@stage_main("python -m train.evaluate_labels")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate_labels", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="rendered folder (its labels are the truth)")
    parser.add_argument("--eval", type=Path, required=True, help="held-out rendered folder for the ceiling")
    parser.add_argument("--per-class", type=int, default=10)
    parser.add_argument("--suggest", type=int, default=50)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/evaluate_labels"))
    parser.add_argument("--ceiling", type=Path, default=None, help="classifier folder (default OUT/ceiling)")
    parser.add_argument("--vocabulary", type=Path, default=None,
                        help="declare the classes (train.label --vocabulary), e.g. DATA/vocabulary.json: "
                             "then a generator trained on --write DIR reads the same specs as one on DATA")
    parser.add_argument("--write", type=Path, default=None, metavar="DIR",
                        help="also write round 2's pseudo-labelled training folder to DIR (as train.label --out)")
    parser.add_argument("--min-confidence", type=float, default=0.0,
                        help="with --write: leave out rows less sure than this (as train.label)")
    args = parser.parse_args(argv)
    if not 0 <= args.min_confidence <= 1:
        parser.error(f"--min-confidence {args.min_confidence}: must be in [0, 1]")
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    vocab, rows = read_metadata(args.data)
    tags = make_tags(rows, vocab, args.per_class, args.seed)
    tag_file = args.out / "tags.jsonl"
    write_tags(tag_file, tags)
    cache = args.out / "cache"
    report = {"data": str(args.data), "images": len(rows), "per_class": args.per_class,
              "vocabulary": str(args.vocabulary) if args.vocabulary else "from the tags",
              "tagged_images": len(tags), "tag_values": sum(len(t) for t in tags.values())}

    first = label(args.data, tag_file, vocabulary=args.vocabulary, suggest=args.suggest, cache=cache)
    truth = {r["file_name"]: r for r in rows}
    for s in first.suggest:
        tags[s["file_name"]] = {n: truth[s["file_name"]][n] for n in vocab.names}
    write_tags(tag_file, tags)
    t = time.time()
    second = label(args.data, tag_file, vocabulary=args.vocabulary, suggest=args.suggest, cache=cache)
    # both rounds scored on the same images: those untagged after round 2
    report["round1"] = {**score(first, rows, set(tags)), "seconds": round(first.seconds, 1), "views": first.scales}
    report["round2"] = {**score(second, rows, set(tags)), "seconds": round(time.time() - t, 1),
                        "tagged_images": len(tags), "views": second.scales}
    if args.write is not None:
        report["written"] = {"folder": str(args.write), "min_confidence": args.min_confidence,
                             **write_output(second, args.data, args.write, args.min_confidence)}

    report["load_average"] = os.getloadavg()
    fit_cfg = classifier.FitConfig(n_train=len(rows), threads=1)
    model, _ = classifier.obtain(args.ceiling or args.out / "ceiling", args.data, fit_cfg)
    report["ceiling"] = classifier.evaluate_folder(model, args.eval)
    (args.out / "report.json").write_text(json.dumps(report, indent=1) + "\n")

    ceiling = report["ceiling"]["accuracy"]
    print(f"\n{args.data}: {len(rows)} images, {report['tagged_images']} tagged ({args.per_class} per class), "
          f"then +{args.suggest} suggested; accuracy on untagged images; ratio = / ceiling")
    print(f"{'attribute':<14}{'ceiling':>9}{'round 1':>9}{'ratio':>7}{'round 2':>9}{'ratio':>7}")
    for a in vocab.categorical:
        r1, r2, c = report["round1"]["accuracy"][a], report["round2"]["accuracy"][a], ceiling[a]
        print(f"{a:<14}{c:>9.3f}{r1:>9.3f}{r1 / c:>7.3f}{r2:>9.3f}{r2 / c:>7.3f}")
    for n in vocab.colors:
        print(f"{n:<14}{report['ceiling']['color_error'][n]:>9.1f}{report['round1']['color_error'][n]:>9.1f}"
              f"{'':>7}{report['round2']['color_error'][n]:>9.1f}   (mean |RGB error|, 0-255)")
    print(f"load average (1, 5, 15 min; 2 cores shared): {report['load_average']}")
    print(f"seconds: first run {report['round1']['seconds']}, second run {report['round2']['seconds']}")


if __name__ == "__main__":
    sys.exit(main())

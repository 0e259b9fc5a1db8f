"""Stage 3: evaluate a weights folder against real renders, judged by our attribute classifier.

Example:
    python -m train.evaluate --weights weights/avatar-studio --data data/eval128 \\
        --train-data data/train128
    python -m train.evaluate --weights weights/avatar-studio --data data/eval128 --n 500 --out /tmp/e.json

For the first --n rows of the held-out folder --data (seed = row index):
  conditioning accuracy  classifier(design(labels, seed)) vs the labels, per categorical attribute,
                         next to the classifier on the real renders of those rows (the ceiling);
  colour error           mean |RGB| error (0-255) of the classifier's colour reading vs the label,
                         generated next to real;
  Fréchet distance       in the classifier's feature space, generated vs real, next to the
                         real-vs-real baseline: the same specs re-rendered with another draw of
                         the unlabelled choices (avataaars: hat colour, accessory colour, shirt graphic).
                         A style with no unlabelled parts (big-smile) re-renders the same pictures,
                         so that baseline is 0; there both sides are measured against a second real
                         sample, disjoint from the first (other specs, drawn as the data was):
                         generated-vs-disjoint next to real-vs-disjoint, which is the sampling noise
                         of FD at this n. Every style reports both ("disjoint"); the bar uses the
                         first where it is at least 1% of the second (``bar_baseline``: adventurer's
                         hidden parts, a birthmark or an earring, barely move the features, 0.043
                         against 176, and 4x that is out of reach, as big-smile's 0 is);
  edit consistency       same seed, one categorical attribute changed (row i edits attribute
                         i mod A to another value): the edited one reads as the new value and
                         every other attribute reads as before; generated next to real renders
                         (re-rendered with the changed label, same unlabelled choices);
  diversity              design({}, seed) for n seeds: entropy of the predicted hair and outfit
                         distributions / log(number of choices);
  ms/avatar              median time of studio.design at batch 1.
Real renders are drawn in the style --data was rendered from (its vocabulary.json "style",
avataaars by default). A "pass" block checks the bars of the generator issue. The classifier
(train.classifier) is cached in --classifier and reused when it was trained the same way on the same --train-data;
without --train-data the cached one is used as it is.
"""
from __future__ import annotations

import argparse
import io
import json
import math
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar_studio import AvatarStudio
from avatar_studio.studio import MAX_BATCH
from train import classifier, styles
from train.classifier import AttributeClassifier, FitConfig, Predictions, pil_to_uint8, predict
from train.dataset import load_images, read_metadata, read_style
from train.errors import TrainError, stage_main
from train.model_card import write_model_card

DEFAULT_N = 2000
TIMING_RUNS = 30
WARMUP = 3
OTHER_RENDER_SEED = 1_000_003     # RNG stream of the re-rendered (real-vs-real) unlabelled choices
EDIT_SEED = 2_000_003             # RNG stream of the edits' new values
DISJOINT_SEED = 3_000_003         # RNG stream of the second, disjoint real sample (the FD baseline without
#                                   unlabelled parts)
BARS = {
    "conditioning_accuracy": "generated >= 0.95 x real-render ceiling on every categorical attribute",
    "color_error": "generated <= 2 x real-render error on every colour",
    "frechet_distance": "generated-vs-real <= 4 x real-vs-real baseline",
    "edit_consistency": "generated >= 0.90 x real-render ceiling",
    "diversity": "normalised entropy of predicted hair and outfit >= 0.90 with every attribute 'any'",
}


# ---- real renders -------------------------------------------------------------------------
def other_hidden(index: int, seed: int = OTHER_RENDER_SEED, style: str = "avataaars") -> dict:
    """Another draw of the unlabelled choices for row ``index`` (its own RNG stream)."""
    rng = np.random.default_rng([seed, index])
    return {name: str(rng.choice(choices)) for name, choices in styles.vocabulary(style)["unlabelled"].items()}


def render_image(labels: dict, hidden: dict, size: int, style: str = "avataaars") -> Image.Image:
    """DiceBear + resvg, decoded to a PIL RGBA image."""
    return Image.open(io.BytesIO(styles.render_png(style, labels, hidden, size))).convert("RGBA")


def disjoint_sample(n: int, size: int, style: str) -> list[Image.Image]:
    """n real renders of other specs than the held-out rows, drawn as the data was (its own stream)."""
    from train.render_dataset import draw_labels
    vocab = styles.vocabulary(style)
    return [render_image(*draw_labels(DISJOINT_SEED, i, vocab), size, style) for i in range(n)]


PAIRED_MIN = 0.01                 # the paired FD baseline counts from this share of the disjoint one


def bar_baseline(fd_other: dict, fd_disjoint: dict) -> dict:
    """The FD block the bar reads: the paired one (same specs, other unlabelled choices) where the
    unlabelled parts move the classifier's features at all, else the disjoint real sample's.

    Seen: avataaars' hat colours and shirt graphics, micah's glasses colours, noses and ears give
    4.7 and 5.8 (micah: 5% of its disjoint 110); adventurer's birthmark and earrings 0.043 (0.02% of 176);
    big-smile has none (0). A baseline that small is no real-vs-real distance to be 4x of.
    """
    paired = fd_other["real_baseline"] >= PAIRED_MIN * fd_disjoint["real_baseline"] > 0
    return fd_other if paired else fd_disjoint


def fd_block(generated: float, real_baseline: float, baseline: str) -> dict:
    return {"generated": round(generated, 6), "real_baseline": round(real_baseline, 6),
            "ratio": ratio(generated, real_baseline), "baseline": baseline}


def edit_for(index: int, labels: dict, names: list[str], choices: dict[str, list[str]]) -> tuple[str, str]:
    """Row ``index`` edits attribute ``index mod A`` to another value drawn from its own stream."""
    name = names[index % len(names)]
    others = [c for c in choices[name] if c != labels[name]]
    rng = np.random.default_rng([EDIT_SEED, index])
    return name, str(others[int(rng.integers(len(others)))])


# ---- metrics ------------------------------------------------------------------------------
def frechet_distance(a: torch.Tensor, b: torch.Tensor) -> float:
    """Fréchet distance between Gaussian fits of two feature sets (N, F)."""
    a, b = a.double(), b.double()
    mu_a, mu_b = a.mean(0), b.mean(0)
    cov_a, cov_b = torch.cov(a.T), torch.cov(b.T)
    # tr sqrt(A B) = sum sqrt(eig(sqrt(A) B sqrt(A))), all symmetric PSD
    vals, vecs = torch.linalg.eigh(cov_a)
    root_a = vecs @ torch.diag(vals.clamp(min=0).sqrt()) @ vecs.T
    cross = torch.linalg.eigvalsh(root_a @ cov_b @ root_a).clamp(min=0).sqrt().sum()
    fd = (mu_a - mu_b).square().sum() + torch.trace(cov_a) + torch.trace(cov_b) - 2 * cross
    return max(float(fd), 0.0)


def normalised_entropy(index: torch.Tensor, choices: int) -> float:
    counts = torch.bincount(index, minlength=choices).double()
    p = counts[counts > 0] / counts.sum()
    return float(-(p * p.log()).sum() / math.log(choices)) if choices > 1 else 1.0


def edit_success(base: Predictions, edited: Predictions, attr: torch.Tensor, new: torch.Tensor) -> torch.Tensor:
    """(N,) bool: the edited attribute reads as the new value and every other keeps its reading."""
    rows = torch.arange(len(attr))
    hit = edited.index[rows, attr] == new
    same = edited.index == base.index
    same[rows, attr] = True
    return hit & same.all(1)


def ratio(a: float, b: float) -> float | None:
    return round(a / b, 4) if b > 0 else None


def _pair(generated: float, real: float) -> dict:
    return {"generated": round(generated, 4) + 0.0, "real": round(real, 4) + 0.0, "ratio": ratio(generated, real)}


# ---- generation ---------------------------------------------------------------------------
def generate(studio: AvatarStudio, specs: list[dict], seeds: list[int], size: int) -> torch.Tensor:
    """design_batch in chunks -> uint8 RGBA (N, 4, size, size)."""
    out = []
    for i in range(0, len(specs), MAX_BATCH):
        out.append(pil_to_uint8(studio.design_batch(specs[i:i + MAX_BATCH], seeds[i:i + MAX_BATCH]), size))
    return torch.cat(out)


def time_design(studio: AvatarStudio, specs: list[dict], runs: int) -> float:
    """Median ms of studio.design at batch 1, after a short warm-up."""
    for i in range(WARMUP):
        studio.design(specs[i % len(specs)], seed=i)
    times = []
    for i in range(runs):
        t = time.perf_counter()
        studio.design(specs[i % len(specs)], seed=i)
        times.append((time.perf_counter() - t) * 1000)
    return statistics.median(times)


# ---- the evaluation -----------------------------------------------------------------------
def evaluate(weights: Path, data: Path, train_data: Path | None = None, n: int = DEFAULT_N,
             classifier_dir: Path = classifier.DEFAULT_DIR, retrain: bool = False,
             fit_cfg: FitConfig | None = None, timing_runs: int = TIMING_RUNS, log=print) -> dict:
    t0 = time.time()
    studio = AvatarStudio.from_pretrained(weights)
    vocab, rows = read_metadata(data)
    if vocab.conditioning() != studio.vocab.conditioning():
        raise TrainError(f"{data} has another vocabulary than the model in {weights}")
    rows = rows[:n]
    n = len(rows)
    model, meta = classifier.obtain(classifier_dir, train_data, fit_cfg or FitConfig(), retrain=retrain, log=log)
    if model.config.vocabulary != vocab.conditioning():
        raise TrainError(f"the classifier in {classifier_dir} was trained on another vocabulary; "
                         f"pass --train-data DIR --retrain-classifier")
    size = model.config.size
    data_size = classifier.image_size(data, rows)
    if studio.resolution != size or data_size != size:
        log(f"note: model {studio.resolution} px, data {data_size} px, classifier {size} px: resized to {size}")
    style = read_style(data)
    if studio.vocab.style_name != style:
        raise TrainError(f"{data} holds {style} renders, but the model in {weights} draws {studio.vocab.style_name}")
    names = list(vocab.categorical)
    labels = [{k: row[k] for k in vocab.names} for row in rows]
    styled = [{"style": style, **lab} for lab in labels]  # what the studio is asked for: this style
    seeds = list(range(n))
    index, rgb = vocab.encode(labels)

    log(f"generating {n} avatars for the specs of {data} ...")
    p_gen = predict(model, generate(studio, styled, seeds, size))
    p_real = predict(model, load_images(data, rows, size))

    log(f"re-rendering {n} real avatars with other unlabelled choices, and {n} edits ...")
    hidden = [other_hidden(i, style=style) for i in seeds]
    edits = [edit_for(i, labels[i], names, vocab.categorical) for i in seeds]
    edited_labels = [{**lab, a: v} for lab, (a, v) in zip(labels, edits)]
    p_other = predict(model, pil_to_uint8([render_image(lab, h, data_size, style)
                                           for lab, h in zip(labels, hidden)], size))
    p_real_edit = predict(model, pil_to_uint8(
        [render_image(lab, h, data_size, style) for lab, h in zip(edited_labels, hidden)], size))
    log("generating the edits and the 'any' avatars ...")
    p_gen_edit = predict(model, generate(studio, [{"style": style, **lab} for lab in edited_labels], seeds, size))
    p_any = predict(model, generate(studio, [{"style": style}] * n, seeds, size))
    ms = time_design(studio, styled, timing_runs)

    acc_gen = classifier.accuracy(model, p_gen, index, rgb)
    acc_real = classifier.accuracy(model, p_real, index, rgb)
    attr = torch.tensor([names.index(a) for a, _ in edits])
    new = torch.tensor([vocab.categorical[a].index(v) for a, v in edits])
    ok_gen = edit_success(p_gen, p_gen_edit, attr, new)
    ok_real = edit_success(p_other, p_real_edit, attr, new)
    p_disjoint = predict(model, pil_to_uint8(disjoint_sample(n, data_size, style), size))
    fd_other = fd_block(frechet_distance(p_gen.features, p_real.features),
                        frechet_distance(p_other.features, p_real.features), "other unlabelled choices")
    fd_disjoint = fd_block(frechet_distance(p_gen.features, p_disjoint.features),
                           frechet_distance(p_real.features, p_disjoint.features), "disjoint real sample")
    diversity = {name: _pair(normalised_entropy(p_any.index[:, names.index(name)], len(vocab.categorical[name])),
                             normalised_entropy(p_real.index[:, names.index(name)], len(vocab.categorical[name])))
                 for name in ("hair", "outfit") if name in names}

    result = {
        "model": studio.model_id, "weights": str(weights), "data": str(data), "style": style, "n": n,
        "resolution": studio.resolution,
        "classifier": {"folder": str(classifier_dir), "size": size, "trained_on": meta.get("data"),
                       "train_seconds": meta.get("seconds")},
        "conditioning_accuracy": {k: _pair(acc_gen["accuracy"][k], acc_real["accuracy"][k]) for k in names},
        "color_error": {k: _pair(acc_gen["color_error"][k], acc_real["color_error"][k]) for k in vocab.colors},
        "frechet_distance": {**bar_baseline(fd_other, fd_disjoint), "disjoint": fd_disjoint, "paired": fd_other},
        "edit_consistency": {
            **_pair(float(ok_gen.float().mean()), float(ok_real.float().mean())),
            "per_attribute": {k: _pair(float(ok_gen[attr == a].float().mean()) if (attr == a).any() else 0.0,
                                       float(ok_real[attr == a].float().mean()) if (attr == a).any() else 0.0)
                              for a, k in enumerate(names)}},
        "diversity": diversity,
        "ms_per_avatar": {"median": round(ms, 2), "batch": 1, "runs": timing_runs,
                          "threads": torch.get_num_threads()},
    }
    result["pass"] = check_bars(result)
    result["seconds"] = round(time.time() - t0, 1)
    return result


def check_bars(r: dict) -> dict:
    def bar(name: str, failing: list[str]) -> dict:
        return {"bar": BARS[name], "met": not failing, "failing": failing}

    def below(value: float | None, limit: float) -> bool:
        return value is None or value < limit

    def above(value: float | None, limit: float) -> bool:
        return value is None or value > limit

    fd = r["frechet_distance"]
    out = {
        "conditioning_accuracy": bar("conditioning_accuracy", [
            k for k, v in r["conditioning_accuracy"].items() if below(v["ratio"], 0.95)]),
        "color_error": bar("color_error", [
            k for k, v in r["color_error"].items()
            if v["generated"] > 2 * v["real"] + 1e-9]),
        "frechet_distance": bar("frechet_distance", [] if fd["generated"] == 0 or not above(fd["ratio"], 4.0)
                                else ["fd"]),
        "edit_consistency": bar("edit_consistency", ["edit"] if below(r["edit_consistency"]["ratio"], 0.90) else []),
        "diversity": bar("diversity", [k for k, v in r["diversity"].items() if v["generated"] < 0.90]),
    }
    out["all"] = all(v["met"] for v in out.values())
    return out


def report(r: dict) -> str:
    lines = [f"{r['model']} on {r['data']} (n={r['n']}, {r['resolution']} px)",
             f"{'conditioning accuracy':28s} {'generated':>9s} {'real':>7s} {'ratio':>7s}"]
    for k, v in r["conditioning_accuracy"].items():
        lines.append(f"  {k:26s} {v['generated']:9.4f} {v['real']:7.4f} {v['ratio'] or 0:7.3f}")
    lines.append("colour error (0-255)")
    for k, v in r["color_error"].items():
        lines.append(f"  {k:26s} {v['generated']:9.2f} {v['real']:7.2f} {v['ratio'] or 0:7.3f}")
    fd, ed = r["frechet_distance"], r["edit_consistency"]
    lines.append(f"{'Fréchet distance':28s} {fd['generated']:9.3f} {fd['real_baseline']:7.3f} {fd['ratio'] or 0:7.3f}")
    lines.append(f"  {'(baseline: ' + fd['baseline'] + ')':26s}")
    dj = fd["disjoint"]
    lines.append(f"  {'vs a disjoint real sample':26s} {dj['generated']:9.3f} {dj['real_baseline']:7.3f} "
                 f"{dj['ratio'] or 0:7.3f}")
    if "paired" in fd:  # evaluations before 2026-12-01 have no paired block of their own
        pr = fd["paired"]
        lines.append(f"  {'vs other unlabelled choices':26s} {pr['generated']:9.3f} {pr['real_baseline']:7.3f} "
                     f"{pr['ratio'] or 0:7.3f}")
    lines.append(f"{'edit consistency':28s} {ed['generated']:9.4f} {ed['real']:7.4f} {ed['ratio'] or 0:7.3f}")
    for k, v in r["diversity"].items():
        lines.append(f"{'diversity ' + k:28s} {v['generated']:9.4f} {v['real']:7.4f}")
    lines.append(f"ms/avatar (design, batch 1, median): {r['ms_per_avatar']['median']}")
    for k, v in r["pass"].items():
        if k != "all":
            lines.append(f"{'PASS' if v['met'] else 'FAIL'}  {k}: {v['bar']}"
                         + (f" (failing: {', '.join(v['failing'])})" if v["failing"] else ""))
    lines.append(f"all bars met: {r['pass']['all']}")
    return "\n".join(lines)


@stage_main("python -m train.evaluate")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True, help="weights folder (weights/NAME)")
    parser.add_argument("--data", type=Path, required=True, help="held-out real renders (e.g. data/eval128)")
    parser.add_argument("--train-data", type=Path, default=None,
                        help="real renders the classifier trains on (e.g. data/train128); "
                             "default: use the cached classifier as it is")
    parser.add_argument("--n", type=int, default=DEFAULT_N, help=f"eval avatars (default {DEFAULT_N})")
    parser.add_argument("--out", type=Path, default=None, help="JSON file (default: WEIGHTS/evaluation.json)")
    parser.add_argument("--classifier", type=Path, default=classifier.DEFAULT_DIR,
                        help=f"classifier cache folder (default {classifier.DEFAULT_DIR})")
    parser.add_argument("--retrain-classifier", action="store_true", help="train the classifier again")
    parser.add_argument("--timing-runs", type=int, default=TIMING_RUNS, help="design() calls timed")
    args = parser.parse_args(argv)
    if args.n < 2:
        parser.error("--n must be at least 2")
    result = evaluate(args.weights, args.data, args.train_data, args.n, args.classifier,
                      args.retrain_classifier, timing_runs=args.timing_runs)
    out = args.out or args.weights / "evaluation.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=1) + "\n")
    print(report(result))
    print(f"wrote {out}")
    if out.resolve() == (args.weights / "evaluation.json").resolve():
        write_model_card(args.weights)  # the card quotes evaluation.json
        print(f"updated {args.weights / 'README.md'}")


if __name__ == "__main__":
    sys.exit(main())

"""An attribute classifier trained on real renders: the judge and feature extractor of evaluation.

Example:
    python -m train.classifier --data data/train128 --eval data/eval128 --out runs/classifier

One small CNN reads an RGBA avatar (premultiplied RGB + alpha) through three views: the whole
image (4x4 patches), the face (2x2 patches) and a strip over the eyebrows at full resolution
(thin strokes a few pixels wide; the artwork keeps every part at a fixed place,
see ``VIEWS``). The views end in small spatial maps, flattened and mixed into one feature
vector (the *penultimate features*, used for the Fréchet distance), read by one softmax head
per categorical attribute. Colours are read, not guessed: per colour, a mask over the
pixels (from the whole view's features) and the masked mean of the pixel colours.

Saved as model.safetensors + classifier.json (architecture, training settings, data
fingerprint, validation figures), so evaluation reuses a cached classifier only when it
was trained the same way on the same data.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import math
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from safetensors.torch import load_file, save_file
from torch import nn

from avatar_studio.attributes import Vocabulary
from train.dataset import METADATA, VOCABULARY, load_images, read_metadata, read_style
from train.errors import TrainError, stage_main

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "classifier.json"
DEFAULT_DIR = Path("runs/classifier")
# Views of the avataaars artwork, boxes as fractions of the side (top, left, bottom, right).
# The artwork keeps every part at a fixed place; measured by rendering every variant at 128 px:
# eyebrows y 37-48, eyes y 44-61, mouth y 64-81 (all within x 42-85). Eyebrows X vs XNatural
# differ in stroke width only: patchified views reach ~94-96% on them, a strip of 3x3 convs at
# full resolution 99% (a side parting, 8 pixels at y 23-26, stays the hardest hair call).
VIEWS = [
    {"name": "whole", "box": [0.0, 0.0, 1.0, 1.0], "patch": 4, "channels": [24, 48, 96, 128]},
    {"name": "face", "box": [35 / 128, 40 / 128, 83 / 128, 88 / 128], "patch": 2, "channels": [16, 32, 64, 128]},
    {"name": "brows", "box": [33 / 128, 40 / 128, 53 / 128, 88 / 128], "patch": 1, "channels": [24, 32, 64]},
]


def _views(face: tuple[int, int, int, int], strip: tuple[int, int, int, int]) -> list[dict]:
    """VIEWS with other boxes, given in pixels at 128 px (top, left, bottom, right)."""
    whole, face_view, strip_view = (dict(v) for v in VIEWS)
    return [whole, {**face_view, "box": [c / 128 for c in face]}, {**strip_view, "box": [c / 128 for c in strip]}]


# The other styles' views, measured the same way (every eyes / eyebrows / mouth variant drawn on random
# avatars at 128 px; the box of the pixels that change, 2 px added on each side): the face view spans
# eyes, eyebrows and mouth, the full-resolution strip spans the eyebrows (big-smile has none: its eyes).
# big-smile: eyes y 48-68, x 70-102, mouth y 71-101, x 59-107; adventurer: eyebrows y 45-68, eyes
# y 57-81, mouth y 76-99 (x 26-80); micah: eyebrows y 35-49, eyes y 42-57, mouth y 67-85 (x 45-85).
STYLE_VIEWS = {
    "avataaars": VIEWS,
    "big-smile": _views(face=(46, 57, 104, 110), strip=(46, 68, 71, 105)),
    "adventurer": _views(face=(43, 24, 102, 83), strip=(43, 24, 71, 82)),
    "micah": _views(face=(33, 43, 88, 88), strip=(33, 43, 52, 88)),
}


@dataclass
class ClassifierConfig:
    """Architecture (and the vocabulary it reads); saved beside the weights.

    Each view crops its box, then a stem (patch > 1: a patch x patch conv of that stride;
    patch 1: a 3x3 conv at full resolution) to channels[0], then one stage per further entry
    (a 3x3 stride-2 conv, plus depth - 1 3x3 convs), each halving the sides.
    """
    vocabulary: dict                 # Vocabulary.to_dict()
    size: int = 128                  # input side; other sizes are resized to it
    views: list[dict] = field(default_factory=lambda: [dict(v) for v in VIEWS])
    depth: int = 1
    feature_dim: int = 256
    color_stages: list[int] = field(default_factory=lambda: [1, 2])  # whole-view maps that place the colour masks

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary.from_dict(self.vocabulary).conditioning()  # presets don't matter here

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary.from_dict(self.vocabulary)

    def crop(self, view: dict) -> tuple[int, int, int, int]:
        """(top, left, height, width) of a view's box in pixels at ``size`` (multiples of its patch)."""
        top, left, bottom, right = view["box"]
        patch = view["patch"]
        height = max(1, round((bottom - top) * self.size / patch)) * patch
        width = max(1, round((right - left) * self.size / patch)) * patch
        top, left = min(round(top * self.size), self.size - height), min(round(left * self.size), self.size - width)
        return top, left, height, width


@dataclass
class FitConfig:
    """How the classifier is trained (part of the cache key)."""
    n_train: int = 20000             # rows of the training folder used (the first n)
    epochs: int = 4
    batch: int = 64
    lr: float = 3e-3
    weight_decay: float = 1e-4
    color_weight: float = 4.0        # weight of the L1 colour loss against the summed cross-entropies
    augment: bool = True             # light blur and noise: a judge robust to small defects
    seed: int = 0
    threads: int = 2                 # torch CPU threads while training (0: torch's default)


def _conv(c_in: int, c_out: int, kernel: int, stride: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, kernel, stride=stride, padding=(kernel - 1) // 2 if kernel == 3 else 0,
                      bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class _View(nn.Module):
    """Stem, then stages that halve the sides; keeps every stage's map."""

    def __init__(self, patch: int, channels: list[int], depth: int):
        super().__init__()
        stem = _conv(4, channels[0], 3, 1) if patch == 1 else _conv(4, channels[0], patch, patch)
        self.stem = nn.Sequential(*stem)
        self.stages = nn.ModuleList(
            nn.Sequential(*_conv(a, b, 3, 2), *[m for _ in range(depth - 1) for m in _conv(b, b, 3, 1)])
            for a, b in zip(channels, channels[1:]))

    def forward(self, x: torch.Tensor) -> list[torch.Tensor]:
        maps = [self.stem(x)]
        for stage in self.stages:
            maps.append(stage(maps[-1]))
        return maps

    @staticmethod
    def flat_size(height: int, width: int, patch: int, channels: list[int]) -> int:
        height, width = height // patch, width // patch
        for _ in channels[1:]:
            height, width = (height + 1) // 2, (width + 1) // 2
        return channels[-1] * height * width


class AttributeClassifier(nn.Module):
    def __init__(self, config: ClassifierConfig):
        super().__init__()
        self.config = config
        vocab = config.vocab
        self.sizes = [len(c) for c in vocab.categorical.values()]
        self.n_colors = len(vocab.colors)
        self.crops = [config.crop(v) for v in config.views]
        self.views = nn.ModuleList(_View(v["patch"], v["channels"], config.depth) for v in config.views)
        flat = sum(_View.flat_size(h, w, v["patch"], v["channels"])
                   for (_, _, h, w), v in zip(self.crops, config.views))
        self.features = nn.Sequential(nn.Linear(flat, config.feature_dim), nn.ReLU(inplace=True))
        self.dropout = nn.Dropout(0.1)
        self.heads = nn.Linear(config.feature_dim, sum(self.sizes))
        # colours are read, not guessed: a mask per colour over the pixels, and the masked mean colour
        self.color_masks = nn.ModuleList(nn.Conv2d(config.views[0]["channels"][s], self.n_colors, 1)
                                         for s in config.color_stages)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """x (B, 4, S, S) premultiplied RGBA in [0, 1] -> (features (B, F), logits (B, sum K), rgb (B, C, 3))."""
        maps = [view(x[:, :, t:t + h, l:l + w]) for view, (t, l, h, w) in zip(self.views, self.crops)]
        feats = self.features(torch.cat([m[-1].flatten(1) for m in maps], dim=1))  # (B, F)
        logits = self.heads(self.dropout(feats))                      # (B, sum K)
        small = x[:, :, ::2, ::2]                                     # (B, 4, S/2, S/2): every other pixel
        alpha = small[:, 3:]
        straight = small[:, :3] / alpha.clamp(min=1e-3)               # (B, 3, S/2, S/2)
        masks = sum(F.interpolate(conv(maps[0][s]), size=small.shape[-2:], mode="bilinear", align_corners=False)
                    for conv, s in zip(self.color_masks, self.config.color_stages))  # (B, C, S/2, S/2)
        weights = torch.softmax((masks + alpha.clamp(min=1e-4).log()).flatten(2), dim=2)  # (B, C, P)
        rgb = torch.einsum("bcp,bkp->bck", weights, straight.flatten(2)).clamp(0, 1)      # (B, C, 3)
        return feats, logits, rgb

    def split(self, logits: torch.Tensor) -> list[torch.Tensor]:
        """Concatenated logits -> one (B, K_a) tensor per categorical attribute."""
        return list(torch.split(logits, self.sizes, dim=1))


# ---- images in ----------------------------------------------------------------------------
def to_input(images: torch.Tensor) -> torch.Tensor:
    """uint8 straight-alpha RGBA (B, 4, S, S) -> float premultiplied RGBA in [0, 1]."""
    x = images.float() / 255.0
    return torch.cat([x[:, :3] * x[:, 3:], x[:, 3:]], dim=1)


def pil_to_uint8(images: list[Image.Image], size: int) -> torch.Tensor:
    """PIL images -> uint8 RGBA (N, 4, size, size), Lanczos-resized where needed (as load_images does)."""
    out = torch.empty(len(images), 4, size, size, dtype=torch.uint8)
    for i, im in enumerate(images):
        im = im.convert("RGBA")
        if im.size != (size, size):
            im = im.resize((size, size), Image.LANCZOS)
        out[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
    return out


@dataclass
class Predictions:
    index: torch.Tensor      # (N, A) long: predicted choice per categorical attribute
    rgb: torch.Tensor        # (N, C, 3) float in [0, 1]
    features: torch.Tensor   # (N, F) float: penultimate features


@torch.inference_mode()
def predict(model: AttributeClassifier, images: torch.Tensor, batch: int = 256) -> Predictions:
    """Classify uint8 RGBA images (N, 4, S, S) at the classifier's size."""
    model.eval()
    size = model.config.size
    if images.shape[-1] != size or images.shape[-2] != size:
        raise ValueError(f"the classifier reads {size} px images, got {tuple(images.shape[-2:])}")
    index, rgb, feats = [], [], []
    for i in range(0, len(images), batch):
        f, logits, colours = model(to_input(images[i:i + batch]))
        index.append(torch.stack([part.argmax(1) for part in model.split(logits)], dim=1))
        rgb.append(colours)
        feats.append(f)
    return Predictions(torch.cat(index), torch.cat(rgb), torch.cat(feats))


def accuracy(model: AttributeClassifier, pred: Predictions, index: torch.Tensor, rgb: torch.Tensor) -> dict:
    """Per-attribute accuracy and per-colour mean absolute RGB error (0-255 units) against labels."""
    vocab = model.config.vocab
    acc = {name: float((pred.index[:, a] == index[:, a]).float().mean())
           for a, name in enumerate(vocab.categorical)}
    err = {name: float((pred.rgb[:, c] - rgb[:, c]).abs().mean() * 255)
           for c, name in enumerate(vocab.colors)}
    return {"accuracy": acc, "color_error": err}


# ---- training -----------------------------------------------------------------------------
def data_fingerprint(folder: Path) -> str:
    """sha256 of the folder's metadata, vocabulary and render settings (not of every image)."""
    digest = hashlib.sha256()
    for name in (METADATA, VOCABULARY, "render_config.json"):
        path = Path(folder) / name
        digest.update(name.encode())
        digest.update(path.read_bytes() if path.exists() else b"-")
    return digest.hexdigest()


def image_size(folder: Path, rows: list[dict]) -> int:
    with Image.open(Path(folder) / rows[0]["file_name"]) as im:
        return im.size[0]


def _batch(images: torch.Tensor, ids: torch.Tensor, gen: torch.Generator | None,
           noise: torch.Tensor | None = None) -> torch.Tensor:
    """Network input of rows ``ids``; with ``gen``, small defects a judge should shrug off: a light
    2x2 blur on some images and faint noise (a slice of ``noise``). No shifts: renders and the
    generator's images are pixel-aligned, and +-1 px shifts cost ~2 points on eyebrows."""
    x = to_input(images[ids])                                         # (B, 4, S, S)
    if gen is not None:
        soft = (torch.rand(len(ids), generator=gen) < 0.3).nonzero().flatten()
        if len(soft):
            s = x[soft]
            x[soft] = 0.625 * s + 0.125 * (s.roll(1, 2) + s.roll(1, 3) + s.roll((1, 1), (2, 3)))
        if noise is not None:
            start = int(torch.randint(len(noise) - len(ids) + 1, (1,), generator=gen))
            x += noise[start:start + len(ids)]
        x.clamp_(0, 1)
    return x.contiguous(memory_format=torch.channels_last)


def fit(data: Path, fit_cfg: FitConfig, log=print) -> tuple[AttributeClassifier, dict]:
    """Train on the first ``n_train`` rows of a rendered folder; returns the model and a training record."""
    t_start = time.time()
    if fit_cfg.threads:
        torch.set_num_threads(fit_cfg.threads)
    vocab, rows = read_metadata(data)
    rows = rows[:fit_cfg.n_train]
    config = architecture_for(data)
    images = load_images(data, rows, config.size)          # (N, 4, S, S) uint8
    index, rgb = vocab.encode(rows)                        # (N, A), (N, C, 3)
    t_loaded = time.time()
    torch.manual_seed(fit_cfg.seed)
    model = AttributeClassifier(config)
    model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.AdamW(model.parameters(), lr=fit_cfg.lr, weight_decay=fit_cfg.weight_decay)
    steps_per_epoch = max(1, len(rows) // fit_cfg.batch)
    total = steps_per_epoch * fit_cfg.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=fit_cfg.lr, total_steps=total, pct_start=0.15)
    gen = torch.Generator().manual_seed(fit_cfg.seed)
    side = config.size
    noise = (torch.rand((2 * fit_cfg.batch, 4, side, side), generator=gen) - 0.5) * 0.05  # a bank to slice from
    model.train()
    step, loss_sum, since = 0, 0.0, 0
    for epoch in range(fit_cfg.epochs):
        perm = torch.randperm(len(rows), generator=gen)
        for s in range(steps_per_epoch):
            ids = perm[s * fit_cfg.batch:(s + 1) * fit_cfg.batch]
            x = _batch(images, ids, gen if fit_cfg.augment else None, noise)
            _, logits, colours = model(x)
            ce = sum(F.cross_entropy(part, index[ids, a]) for a, part in enumerate(model.split(logits)))
            loss = ce + fit_cfg.color_weight * (colours - rgb[ids]).abs().mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            sched.step()
            step, since, loss_sum = step + 1, since + 1, loss_sum + loss.item()
            if step % 50 == 0 or step == total:
                log(f"classifier epoch {epoch + 1}/{fit_cfg.epochs} step {step}/{total} "
                    f"loss {loss_sum / since:.3f} ({time.time() - t_loaded:.0f} s)")
                loss_sum, since = 0.0, 0
    model.eval()
    record = {
        "data": {"folder": str(data), "fingerprint": data_fingerprint(data), "rows": len(rows)},
        "seconds": {"load": round(t_loaded - t_start, 1), "train": round(time.time() - t_loaded, 1)},
        "threads": torch.get_num_threads(),
    }
    return model, record


# ---- files --------------------------------------------------------------------------------
def save(model: AttributeClassifier, folder: Path, fit_cfg: FitConfig, record: dict) -> Path:
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    tmp = folder / (WEIGHTS_FILE + ".tmp")
    save_file(state, str(tmp))
    os.replace(tmp, folder / WEIGHTS_FILE)
    meta = {"config": asdict(model.config), "fit": asdict(fit_cfg), **record}
    tmp = folder / (CONFIG_FILE + ".tmp")
    tmp.write_text(json.dumps(meta, indent=1) + "\n")
    os.replace(tmp, folder / CONFIG_FILE)
    return folder


def read_meta(folder: Path) -> dict | None:
    path = Path(folder) / CONFIG_FILE
    if not path.is_file() or not (Path(folder) / WEIGHTS_FILE).is_file():
        return None
    return json.loads(path.read_text())


def load(folder: Path) -> tuple[AttributeClassifier, dict]:
    """A saved classifier (strict load) and its metadata."""
    meta = read_meta(folder)
    if meta is None:
        raise TrainError(f"no classifier at {folder} (expected {CONFIG_FILE} + {WEIGHTS_FILE})")
    model = AttributeClassifier(ClassifierConfig(**meta["config"]))
    model.load_state_dict(load_file(str(Path(folder) / WEIGHTS_FILE)), strict=True)
    return model.eval(), meta


def architecture_for(data: Path) -> ClassifierConfig:
    """The classifier this code builds for a data folder (its vocabulary, image size and style's views)."""
    vocab, rows = read_metadata(data)
    style = read_style(data)
    if style not in STYLE_VIEWS:
        raise TrainError(f"{data}: no classifier views for style {style!r}; known: {', '.join(STYLE_VIEWS)}")
    return ClassifierConfig(vocabulary=vocab.conditioning(), size=image_size(data, rows),
                            views=[dict(v) for v in STYLE_VIEWS[style]])


def matches(meta: dict | None, data: Path, fit_cfg: FitConfig) -> bool:
    """Was the cached classifier built and trained as this code would, on this data?"""
    return (meta is not None and meta.get("fit") == asdict(fit_cfg)
            and meta.get("data", {}).get("fingerprint") == data_fingerprint(data)
            and meta.get("config") == json.loads(json.dumps(asdict(architecture_for(data)))))


def obtain(folder: Path, data: Path | None, fit_cfg: FitConfig, retrain: bool = False,
           log=print) -> tuple[AttributeClassifier, dict]:
    """The cached classifier in ``folder`` when it matches ``data`` + ``fit_cfg``; else train and cache one.

    Without ``data``, the folder the cached classifier was trained on (and its settings) is
    checked again when it is still there; when it is not, the cached classifier is used as it is.
    """
    meta = read_meta(folder)
    if data is None:
        if meta is None:
            raise TrainError(f"no cached classifier at {folder}; pass --train-data DIR to train one")
        recorded = Path(meta["data"]["folder"])
        if not (recorded / METADATA).is_file():
            if retrain:
                raise ValueError(f"--retrain-classifier: {recorded} is gone; pass --train-data DIR")
            log(f"note: {recorded} (the classifier's training data) is gone; using {folder} as it is")
            return load(folder)
        data, fit_cfg = recorded, FitConfig(**meta["fit"])
    if not retrain and matches(meta, data, fit_cfg):
        return load(folder)
    if meta is not None and not retrain:
        log(f"cached classifier at {folder} was trained differently (settings or data); retraining")
    model, record = fit(data, fit_cfg, log=log)
    save(model, folder, fit_cfg, record)
    return load(folder)


def evaluate_folder(model: AttributeClassifier, folder: Path, n: int | None = None) -> dict:
    """Accuracy and colour error of the classifier on a labelled folder (the real-render ceiling)."""
    vocab, rows = read_metadata(folder)
    if vocab.conditioning() != model.config.vocabulary:
        raise ValueError(f"{folder} has another vocabulary than the classifier")
    rows = rows[:n] if n else rows
    images = load_images(folder, rows, model.config.size)
    index, rgb = vocab.encode(rows)
    return {"rows": len(rows), **accuracy(model, predict(model, images), index, rgb)}


@stage_main("python -m train.classifier")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.classifier", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="real renders to train on")
    parser.add_argument("--out", type=Path, default=DEFAULT_DIR, help=f"classifier folder (default {DEFAULT_DIR})")
    parser.add_argument("--eval", type=Path, default=None, help="held-out renders: report accuracy there")
    parser.add_argument("--retrain", action="store_true", help="train even when the cached one matches")
    for f in dataclasses.fields(FitConfig):
        kind = (lambda s: s.lower() in ("1", "true", "yes")) if f.type in (bool, "bool") else type(f.default)
        parser.add_argument(f"--{f.name.replace('_', '-')}", type=kind, default=f.default,
                            help=f"(default {f.default})")
    args = parser.parse_args(argv)
    fit_cfg = FitConfig(**{f.name: getattr(args, f.name) for f in dataclasses.fields(FitConfig)})
    model, meta = obtain(args.out, args.data, fit_cfg, retrain=args.retrain)
    print(json.dumps({k: meta[k] for k in ("data", "seconds", "threads")}, indent=1))
    if args.eval:
        result = evaluate_folder(model, args.eval)
        meta["validation"] = {"folder": str(args.eval), **result}
        (args.out / CONFIG_FILE).write_text(json.dumps(meta, indent=1) + "\n")
        print(json.dumps(meta["validation"], indent=1))


if __name__ == "__main__":
    sys.exit(main())

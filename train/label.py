"""Label your own art from a handful of tags: pseudo-labels for every image, ready for train.train.

Example:
    python -m train.label --images my_art --tags my_tags.jsonl --out data/my_art --suggest 50
    python -m train.train --data data/my_art --preset cpu --out runs/my_art
    python -m train.label --serve my_art --vocabulary vocabulary.json      # the tagging page

DIR holds image files (PNG/JPEG/WebP, any size; RGBA, or on a flat background that is cut out
from the corner colour). TAGS.jsonl has one line per tagged image, Hugging Face imagefolder style:
    {"file_name": "a.png", "hair": "bob", "eyes": "happy", "hair_color": "#a55728"}
An image may carry only some attributes; a later line for the same file overrides an earlier one.
The vocabulary is the set of classes the tags name ("#rrggbb" values make colour attributes),
or --vocabulary FILE (a vocabulary.json) declares it; every class needs at least one tag.

How (measured on 4,000 avataaars renders, train/evaluate_labels.py):
  1. Features from every image, no labels: premultiplied RGBA and luminance gradients at
     full size, and the same pooled to 32 px. Cached by the folder's content, so a second run
     with more tags reuses them: OUT/.cache/features-*.npz (or ``--cache DIR``), about 145 kB an
     image at 128 px. Bounded: one cache per image folder and size (the newest), and the least
     recently used go once a cache folder holds over 2 GiB. Delete the folder to clear it.
  2. Per attribute, from its tags only: a Fisher score per feature finds where the attribute
     lives (a region of the 32 px map, learned, not declared), a leave-one-out check among the
     tags picks the scale (whole 32 px view, or the region at half or full size), and a shrunk
     linear discriminant projects the features onto what separates the classes.
  3. Label propagation over a k-nearest-neighbour graph of ALL images in that space, averaged
     with the Gaussian class posterior of the discriminant: probabilities, whose maximum is the
     confidence (tagged values have confidence 1).
  4. Colours: where a colour attribute lives is learned from its tags (how often each pixel
     holds the tagged colour); an image's colour is its most common colour there, weighted.
  5. --suggest K: the images whose tags would help most next, uncertainty x diversity
     (greedy: least sure on average over attributes, times distance to every tagged or already
     suggested image).

Writes OUT/metadata.jsonl (every readable image, every attribute, "<attribute>_confidence"),
OUT/vocabulary.json, OUT/suggest.jsonl and OUT/images/ (the images, RGBA PNG). Rows less
sure than --min-confidence on any categorical attribute are left out (default 0: keep all).
"""
from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, UnidentifiedImageError
from tqdm import tqdm

from avatar_studio.attributes import Vocabulary, hex_to_rgb, parse_color, rgb_to_hex
from train.dataset import CONFIDENCE, MAX_REPORTED, METADATA, VOCABULARY, jsonl_objects, listing
from train.errors import TrainError, stage_main

SUFFIXES = {".png", ".jpg", ".jpeg", ".webp"}
SUGGEST = "suggest.jsonl"
IMAGES = "images"
FEATURE_VERSION = 2
COARSE = 32            # side of the pooled map that finds where an attribute lives
REGION_SHARE = 0.10    # share of the 32 px cells kept as an attribute's region (then dilated one cell)
TOP_FEATURES = 1024    # features kept per attribute (highest Fisher score)
SHRINK = 0.7           # shrinkage of the within-class scatter (few tags per class)
NEIGHBOURS = 10
PROPAGATION_ALPHA = 0.99
COLOR_BITS = 4         # bits per channel of the colour histogram
CACHE_LIMIT = 2 * 2**30  # bytes of feature caches kept in one cache folder (~145 kB an image at 128 px)
PLACE_SHARE = 0.5      # a colour's place: pixels holding it at least this share as often as the surest pixel


class LabelError(TrainError, ValueError):
    """Bad input (tags, vocabulary, folder); the message names the file and line."""


# ---- images ---------------------------------------------------------------------------------
def list_images(folder: Path, skip: Path | None = None) -> list[str]:
    """Image files under ``folder`` (relative POSIX paths, sorted), leaving out ``skip`` (OUT)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise LabelError(f"--images {folder}: not a folder")
    skip = skip.resolve() if skip is not None else None
    names = []
    for path in folder.rglob("*"):
        if path.suffix.lower() in SUFFIXES and path.is_file():
            if skip is not None and (skip == path.resolve().parent or skip in path.resolve().parents):
                continue
            names.append(path.relative_to(folder).as_posix())
    return sorted(names)


def to_rgba(im: Image.Image) -> Image.Image:
    """RGBA; an opaque image on a flat background (all four corners alike) gets that background cut out."""
    has_alpha = im.mode in ("RGBA", "LA", "PA") or (im.mode == "P" and "transparency" in im.info)
    im = im.convert("RGBA")
    a = np.asarray(im)
    if has_alpha and a[..., 3].min() < 255:
        return im
    corners = a[[0, 0, -1, -1], [0, -1, 0, -1], :3].astype(int)
    if np.abs(corners - corners[0]).max() > 8:
        return im  # no flat background: the whole picture is the avatar
    out = a.copy()
    out[..., 3] = np.where(np.abs(a[..., :3].astype(int) - corners[0]).max(-1) > 12, 255, 0)
    return Image.fromarray(out, "RGBA")


def read_image(path: Path, size: int) -> np.ndarray:
    """(size, size, 4) uint8 RGBA; raises OSError/ValueError when the file is not a readable image."""
    with Image.open(path) as im:
        im.load()
        im = to_rgba(im)
    if im.size != (size, size):
        im = im.resize((size, size), Image.LANCZOS)
    return np.asarray(im)


# ---- tags and vocabulary --------------------------------------------------------------------
_HEX = re.compile(r"#[0-9a-fA-F]{6}")


def _is_color(value: object) -> bool:
    return isinstance(value, str) and bool(_HEX.fullmatch(value))


def read_tag_lines(path: Path) -> list[tuple[int, dict]]:
    """(line number, JSON object) per non-blank line; problems raise one LabelError listing them all."""
    path = Path(path)
    if not path.is_file():
        raise LabelError(f"--tags {path}: no such file")
    rows, errors = [], []
    for number, row, problem in jsonl_objects(path):
        if problem:
            errors.append(f"{path.name}:{number}: {problem}")
        else:
            rows.append((number, row))
    if errors:
        raise LabelError(listing(errors))
    return rows


def vocabulary_from_tags(lines: list[tuple[int, dict]]) -> Vocabulary:
    """The classes the tags name: string values are categorical classes, "#rrggbb" values colours."""
    categorical: dict[str, set] = {}
    colors: list[str] = []
    for _, row in lines:
        for key, value in row.items():
            if key == "file_name":
                continue
            if _is_color(value):
                if key not in colors and key not in categorical:
                    colors.append(key)
            elif isinstance(value, str) and key not in colors:
                categorical.setdefault(key, set()).add(value)
    if not categorical:
        raise LabelError("the tags name no categorical attribute; tag at least one class, "
                         "e.g. {\"file_name\": \"a.png\", \"hair\": \"bob\"}")
    return Vocabulary(categorical={k: sorted(v) for k, v in sorted(categorical.items())}, colors=sorted(colors),
                      palettes={}, color_sources={c: ["wheel"] for c in sorted(colors)})


def read_vocabulary_file(path: Path) -> Vocabulary:
    try:
        data = json.loads(Path(path).read_text())
        data.setdefault("color_sources", {c: ["wheel"] for c in data.get("colors", [])})
        return Vocabulary.from_dict(data)
    except OSError as e:
        raise LabelError(f"--vocabulary {path}: cannot read it ({e.strerror})") from None
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise LabelError(f"--vocabulary {path}: not a vocabulary.json ({e!r}); expected "
                         f"{{\"categorical\": {{\"hair\": [\"bob\", ...]}}, \"colors\": [\"hair_color\"]}}") from None


@dataclass(frozen=True)
class Tags:
    vocab: Vocabulary
    values: dict[str, dict[str, str]]   # file_name -> {attribute: value} (later lines win)


def read_tags(path: Path, files: list[str], vocab: Vocabulary | None = None,
              unreadable: set[str] = frozenset()) -> Tags:
    """Validate every line of TAGS.jsonl against DIR's files and the vocabulary (declared or derived)."""
    path = Path(path)
    lines = read_tag_lines(path)
    vocab = vocab or vocabulary_from_tags(lines)
    known, errors, values = set(files), [], {}
    for number, row in lines:
        where = f"{path.name}:{number}"
        name = row.get("file_name")
        if not isinstance(name, str) or not name:
            errors.append(f"{where}: missing \"file_name\"")
            continue
        if name in unreadable:
            errors.append(f"{where}: image {name!r} could not be read (skipped); tag another image")
            continue
        if name not in known:
            errors.append(f"{where}: image {name!r} is not in the images folder")
            continue
        clean = {}
        for key, value in row.items():
            if key == "file_name":
                continue
            if key in vocab.categorical:
                if value not in vocab.categorical[key]:
                    errors.append(f"{where}: unknown {key} {str(value)[:40]!r}; choose one of: "
                                  f"{', '.join(vocab.categorical[key])}")
                    continue
                clean[key] = value
            elif key in vocab.colors:
                try:
                    clean[key] = parse_color(key, value)
                except ValueError as e:
                    errors.append(f"{where}: {str(e).replace(' or ' + repr('any'), '')}")
            else:
                errors.append(f"{where}: unknown attribute {str(key)[:40]!r}; expected: {', '.join(vocab.names)}")
        values.setdefault(name, {}).update(clean)
    if errors:
        raise LabelError(listing(errors))
    counts = {(k, v): 0 for k, choices in vocab.categorical.items() for v in choices}
    for tagged in values.values():
        for key, value in tagged.items():
            if key in vocab.categorical:
                counts[(key, value)] += 1
    missing = [f"{k} {v!r}" for (k, v), n in counts.items() if n == 0]
    missing += [c for c in vocab.colors if not any(c in t for t in values.values())]
    if missing:
        raise LabelError(f"{path.name}: every class needs at least one tag; untagged: {', '.join(missing[:20])}"
                         + (f" and {len(missing) - 20} more" if len(missing) > 20 else ""))
    return Tags(vocab, values)


# ---- features (no labels) -------------------------------------------------------------------
def content_key(folder: Path, files: list[str], size: int) -> str:
    """sha256 of every image's name and bytes, the working size and the feature version."""
    digest = hashlib.sha256(f"v{FEATURE_VERSION} size {size}\n".encode())
    for name in files:
        digest.update(name.encode() + b"\0")
        digest.update(hashlib.sha256((Path(folder) / name).read_bytes()).digest())
    return digest.hexdigest()


def channels(rgba: torch.Tensor) -> torch.Tensor:
    """uint8 RGBA (B, 4, S, S) -> (B, 6, S, S) in [0, 1]: premultiplied RGB, alpha, |d/dx|, |d/dy| of luminance."""
    x = rgba.float() / 255.0
    x = torch.cat([x[:, :3] * x[:, 3:], x[:, 3:]], dim=1)            # (B, 4, S, S) premultiplied
    g = x[:, :3].mean(1, keepdim=True)                                # (B, 1, S, S)
    gx = F.pad((g[..., :, 1:] - g[..., :, :-1]).abs(), (0, 1))
    gy = F.pad((g[..., 1:, :] - g[..., :-1, :]).abs(), (0, 0, 0, 1))
    return torch.cat([x, gx, gy], dim=1)


@dataclass
class Features:
    files: list[str]          # readable images, in order
    unreadable: dict[str, str]  # file -> reason
    full: np.ndarray          # (N, 6, S, S) uint8: channels() * 255
    half: np.ndarray          # (N, 6, S/2, S/2) uint8: the same, 2x2 average-pooled
    coarse: np.ndarray        # (N, 6, 32, 32) uint8: the same, pooled to COARSE px
    rgba: np.ndarray          # (N, 64, 64, 4) uint8: straight RGBA for colour reading


def extract(folder: Path, files: list[str], size: int, progress: bool = True) -> Features:
    full = np.empty((len(files), 6, size, size), np.uint8)
    half = np.empty((len(files), 6, size // 2, size // 2), np.uint8)
    coarse = np.empty((len(files), 6, COARSE, COARSE), np.uint8)
    small = np.empty((len(files), 64, 64, 4), np.uint8)
    ok, unreadable = [], {}
    for name in tqdm(files, desc="features", unit="img", disable=not progress):
        try:
            a = read_image(Path(folder) / name, size)
        except (OSError, ValueError, UnidentifiedImageError, Image.DecompressionBombError) as e:
            unreadable[name] = str(e).split("\n")[0][:120] or type(e).__name__
            continue
        t = torch.from_numpy(a.copy()).permute(2, 0, 1)[None]          # (1, 4, S, S)
        c = channels(t) * 255                                           # (1, 6, S, S)
        full[len(ok)] = c[0].round().to(torch.uint8).numpy()
        half[len(ok)] = F.avg_pool2d(c, 2)[0].round().to(torch.uint8).numpy()
        coarse[len(ok)] = F.adaptive_avg_pool2d(c, COARSE)[0].round().to(torch.uint8).numpy()
        small[len(ok)] = np.asarray(Image.fromarray(a, "RGBA").resize((64, 64), Image.NEAREST))
        ok.append(name)
    n = len(ok)
    return Features(ok, unreadable, full[:n], half[:n], coarse[:n], small[:n])


def load_features(folder: Path, files: list[str], size: int, cache: Path, progress: bool = True,
                  log=print, limit: int = CACHE_LIMIT) -> Features:
    """Features of DIR, from the cache when the folder's content and settings match; the cache
    folder is then pruned (``prune_cache``)."""
    key = content_key(folder, files, size)
    place = hashlib.sha256(f"{Path(folder).resolve()}\0{size}".encode()).hexdigest()[:12]  # folder + size
    path = Path(cache) / f"features-{place}-{key[:24]}.npz"
    if path.is_file():
        with np.load(path, allow_pickle=False) as z:
            meta = json.loads(str(z["meta"]))
            log(f"features: cached ({path})")
            feats = Features(meta["files"], meta["unreadable"], z["full"], z["half"], z["coarse"], z["rgba"])
        os.utime(path)                                                  # newest used: pruned last
        prune_cache(path, limit, log)
        return feats
    feats = extract(folder, files, size, progress)
    Path(cache).mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp.npz")
    np.savez(tmp, full=feats.full, half=feats.half, coarse=feats.coarse, rgba=feats.rgba,
             meta=np.array(json.dumps({"files": feats.files, "unreadable": feats.unreadable})))
    os.replace(tmp, path)
    prune_cache(path, limit, log)
    return feats


def prune_cache(keep: Path, limit: int, log=print) -> None:
    """Bound the feature cache folder of ``keep`` (just written or read): the other caches of the
    same image folder and size are stale (its content changed) and go; then the least recently used caches
    of other folders go until all of them together are at most ``limit`` bytes (``keep`` stays,
    whatever its size)."""
    place = keep.name.split("-")[1]
    others = [p for p in keep.parent.glob("features-*.npz") if p != keep and not p.name.endswith(".tmp.npz")]
    for p in others:
        if p.name.split("-")[1] == place:
            p.unlink(missing_ok=True)
    others = sorted((p for p in others if p.exists()), key=lambda p: p.stat().st_mtime)  # oldest used first
    total = keep.stat().st_size + sum(p.stat().st_size for p in others)
    for p in others:
        if total <= limit:
            break
        total -= p.stat().st_size
        p.unlink(missing_ok=True)
        log(f"features: cache over {limit / 2**30:.1f} GiB, removed {p.name} (least recently used)")


# ---- one attribute from few tags ------------------------------------------------------------
def standardise(z: torch.Tensor) -> torch.Tensor:
    return (z - z.mean(0)) / (z.std(0) + 1e-4)


def fisher(zt: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """Per feature of the tagged rows ``zt`` (T, D): between-class over within-class variance."""
    mu = zt.mean(0)
    between, within = torch.zeros(zt.shape[1]), torch.zeros(zt.shape[1])
    for c in range(k):
        zc = zt[y == c]
        if len(zc):
            between += len(zc) * (zc.mean(0) - mu) ** 2
            within += ((zc - zc.mean(0)) ** 2).sum(0)
    scale = zt.var(0) if len(zt) > 1 else torch.ones(zt.shape[1])  # scale-free: as on standardised features
    return between / max(k - 1, 1) / (within / max(len(zt) - k, 1) + 1e-6 * scale + 1e-12)


def leave_one_out(z: torch.Tensor, y: torch.Tensor) -> float:
    """Nearest-neighbour (cosine) accuracy among the tagged rows, each left out in turn."""
    zn = F.normalize(z, dim=1)
    s = zn @ zn.T
    s.fill_diagonal_(-9.0)
    return float((y[s.argmax(1)] == y).float().mean())


def discriminant(z: torch.Tensor, idx: torch.Tensor, y: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Shrunk LDA: all rows projected (N, D) onto the directions that separate the tagged classes,
    whitened within class, and the class means there (K, D)."""
    zt = z[idx]
    means = torch.stack([zt[y == c].mean(0) for c in range(k)])           # (K, F)
    centred = zt - means[y]
    sw = centred.T @ centred / len(zt)
    sw = (1 - SHRINK) * sw + SHRINK * torch.eye(len(sw)) * sw.diagonal().mean().clamp(min=1e-6)
    inv = torch.linalg.inv(torch.linalg.cholesky(sw))                     # whitening
    mu = zt.mean(0)
    sb = inv @ ((means - mu).T @ (means - mu) / k) @ inv.T
    _, vectors = torch.linalg.eigh(sb)
    w = inv.T @ vectors[:, -max(k - 1, 1):]                               # (F, D)
    return (z - mu) @ w, (means - mu) @ w


def propagate(z: torch.Tensor, idx: torch.Tensor, y: torch.Tensor, k: int) -> torch.Tensor:
    """Label spreading (Zhou et al. 2004) over a symmetric kNN graph with a heat kernel: (N, K) scores."""
    n = len(z)
    m = min(NEIGHBOURS, n - 1)
    if m < 1:
        return F.one_hot(y, k).float()
    sq = (z * z).sum(1)
    nbr, dist = [], []
    for i in range(0, n, 1024):
        d = (sq[i:i + 1024, None] + sq[None] - 2 * z[i:i + 1024] @ z.T).clamp(min=0)   # (b, N)
        d[torch.arange(len(d)), torch.arange(i, i + len(d))] = float("inf")
        v, j = d.topk(m, dim=1, largest=False)
        nbr.append(j)
        dist.append(v)
    nbr, dist = torch.cat(nbr), torch.cat(dist)                          # (N, m)
    sims = torch.exp(-dist / dist.mean().clamp(min=1e-8))
    rows = torch.arange(n).repeat_interleave(m)
    w = torch.sparse_coo_tensor(torch.stack([rows, nbr.flatten()]), sims.flatten(), (n, n),
                                check_invariants=False)
    w = (w + w.t()).coalesce()
    dm = torch.sparse.sum(w, 1).to_dense().clamp(min=1e-8).rsqrt()       # (N,)
    y0 = torch.zeros(n, k)
    y0[idx, y] = 1.0
    f = y0.clone()
    for _ in range(30):
        f = PROPAGATION_ALPHA * dm[:, None] * torch.sparse.mm(w, dm[:, None] * f) + (1 - PROPAGATION_ALPHA) * y0
    return f


@dataclass
class Fit:
    probs: torch.Tensor       # (N, K)
    scale: str                # which view the leave-one-out check chose
    region: torch.Tensor      # (COARSE, COARSE) bool: where the attribute lives


def fit_attribute(feats: Features, idx: torch.Tensor, y: torch.Tensor, k: int) -> Fit:
    """Probabilities of every class for every image, from the tagged rows ``idx`` with classes ``y``."""
    coarse = torch.from_numpy(feats.coarse[idx.numpy()]).float()          # (T, 6, 32, 32)
    score = fisher(coarse.flatten(1), y, k).view(6, COARSE, COARSE).sum(0)  # (32, 32): where it lives
    cells = score >= score.flatten().quantile(1 - REGION_SHARE)
    region = F.max_pool2d(cells.float()[None, None], 3, 1, 1)[0, 0] > 0
    views = {"whole 32 px": (feats.coarse, None)}
    for maps in (feats.half, feats.full):
        side = maps.shape[-1]
        if side >= COARSE * 2:
            views[f"region {side} px"] = (maps, F.interpolate(region.float()[None, None], size=side,
                                                              mode="nearest")[0, 0] > 0)
    best = None
    for name, (maps, mask) in views.items():
        zw = weighted_view(maps, mask, idx, y, k)
        accuracy = leave_one_out(zw[idx], y) if len(idx) > 1 else 0.0
        if best is None or accuracy > best[0]:
            best = (accuracy, name, zw)
    _, name, zw = best
    proj, means = discriminant(zw, idx, y, k)
    spread = propagate(proj, idx, y, k)
    spread = spread / spread.sum(1, keepdim=True).clamp(min=1e-12)
    gauss = torch.softmax(-0.5 * torch.cdist(proj, means) ** 2, dim=1)
    probs = 0.5 * spread + 0.5 * gauss
    probs[idx] = F.one_hot(y, k).float()
    return Fit(probs, name, region)


def weighted_view(maps: np.ndarray, mask: torch.Tensor | None, idx: torch.Tensor, y: torch.Tensor,
                  k: int) -> torch.Tensor:
    """All images' features in ``mask`` (every channel; None: all pixels), cut to the TOP_FEATURES
    with the highest Fisher score among the tagged rows, standardised and weighted by sqrt(score):
    (N, TOP_FEATURES). The score is scale-free, so it is computed on the raw tagged rows only."""
    n, c = len(maps), maps.shape[1]
    flat = maps.reshape(n, -1)                                              # a view: (N, 6 * s * s)
    cols = (np.arange(flat.shape[1]) if mask is None
            else np.flatnonzero(np.broadcast_to(mask.numpy(), (c, *mask.shape)).ravel()))
    score = fisher(torch.from_numpy(flat[idx.numpy()][:, cols]).float(), y, k)
    keep = score.topk(min(TOP_FEATURES, len(score))).indices
    z = standardise(torch.from_numpy(flat[:, cols[keep.numpy()]]).float())   # (N, TOP)
    return z * score[keep].sqrt()


# ---- colours --------------------------------------------------------------------------------
def read_colors(rgba: np.ndarray, tagged: dict[int, np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
    """One colour attribute for every image: (N, 3) in [0, 1] and a confidence (N,).

    Where the colour lives is learned from the tagged images ``{row: rgb}``: the share of them
    whose pixel at each place holds (close to) the tagged colour, kept where it is at least
    PLACE_SHARE of its maximum (measured: hair colour error 30 -> 19 on avataaars, 7.7 -> 3.8 on
    adventurer, with 60 colour tags). An image's colour is the most
    common colour there (a histogram of 2^COLOR_BITS levels per channel, weighted by that share and
    alpha), refined to the weighted mean of its pixels in that bin; the confidence is the bin's
    share of the weight.
    """
    x = rgba.astype(np.float32) / 255.0                                    # (N, 64, 64, 4)
    rows = np.array(list(tagged))
    target = np.stack([tagged[r] for r in rows])                           # (T, 3)
    near = np.abs(x[rows, :, :, :3] - target[:, None, None]).max(-1) < 12 / 255
    place = (near & (x[rows, :, :, 3] > 0.9)).mean(0)                      # (64, 64)
    place = place * (place >= PLACE_SHARE * place.max())                   # the core of where it lives
    weight = place[None] * (x[..., 3] > 0.9)                               # (N, 64, 64)
    levels = 1 << COLOR_BITS
    q = np.minimum((x[..., :3] * levels).astype(np.int64), levels - 1)
    bins = ((q[..., 0] * levels + q[..., 1]) * levels + q[..., 2]).reshape(len(x), -1)   # (N, P)
    w = weight.reshape(len(x), -1)                                         # (N, P)
    offset = np.arange(len(x))[:, None] * levels ** 3
    hist = np.bincount((bins + offset).ravel(), weights=w.ravel(), minlength=len(x) * levels ** 3)
    hist = hist.reshape(len(x), levels ** 3)                               # (N, bins)
    top = hist.argmax(1)                                                   # (N,)
    w_top = w * (bins == top[:, None])                                     # (N, P)
    mass = w_top.sum(1)
    out = np.einsum("np,npc->nc", w_top, x[..., :3].reshape(len(x), -1, 3)) / np.maximum(mass, 1e-12)[:, None]
    conf = (mass / np.maximum(w.sum(1), 1e-12)).astype(np.float32)
    out = out.astype(np.float32)
    for r, rgb in tagged.items():
        out[r], conf[r] = rgb, 1.0
    return out, conf


# ---- the whole labelling --------------------------------------------------------------------
@dataclass
class Result:
    files: list[str]
    vocab: Vocabulary
    labels: list[dict]          # per image: attribute -> value, "<attribute>_confidence" -> float
    suggest: list[dict]
    unreadable: dict[str, str]
    scales: dict[str, str]
    seconds: float


def label(images: Path, tags_path: Path, size: int = 128, vocabulary: Path | None = None,
          suggest: int = 0, cache: Path | None = None, progress: bool = True, log=print,
          skip: Path | None = None) -> Result:
    """Features (cached), per-attribute fits from the tags, colours and suggestions."""
    t0 = time.time()
    files = list_images(images, skip)
    if not files:
        raise LabelError(f"--images {images}: no PNG/JPEG/WebP files")
    feats = load_features(images, files, size, cache or Path(images) / ".label-cache", progress, log)
    if feats.unreadable:
        for name, why in list(feats.unreadable.items())[:MAX_REPORTED]:
            log(f"skipping unreadable image {name!r} ({why})")
        log(f"skipped {len(feats.unreadable)} unreadable image(s) of {len(files)}")
    if not feats.files:
        raise LabelError(f"--images {images}: none of the {len(files)} image files could be read")
    vocab = read_vocabulary_file(vocabulary) if vocabulary else None
    tags = read_tags(tags_path, files, vocab, set(feats.unreadable))
    vocab = tags.vocab
    row_of = {name: i for i, name in enumerate(feats.files)}
    n = len(feats.files)
    probs, scales = {}, {}
    for attribute in tqdm(list(vocab.categorical), desc="attributes", disable=not progress):
        choices = vocab.categorical[attribute]
        pairs = [(row_of[f], choices.index(t[attribute])) for f, t in tags.values.items() if attribute in t]
        idx = torch.tensor([p[0] for p in pairs])
        y = torch.tensor([p[1] for p in pairs])
        fit = fit_attribute(feats, idx, y, len(choices))
        probs[attribute], scales[attribute] = fit.probs, fit.scale
    colors = {}
    for name in vocab.colors:
        tagged = {row_of[f]: np.array(hex_to_rgb(t[name]), np.float32) for f, t in tags.values.items() if name in t}
        colors[name] = read_colors(feats.rgba, tagged)
    labels = []
    for i in range(n):
        row = {}
        for attribute, p in probs.items():
            c = int(p[i].argmax())
            row[attribute] = vocab.categorical[attribute][c]
            row[f"{attribute}{CONFIDENCE}"] = round(float(p[i, c]), 4)
        for name, (rgb, conf) in colors.items():
            row[name] = rgb_to_hex(tuple(float(v) for v in rgb[i]))
            row[f"{name}{CONFIDENCE}"] = round(float(conf[i]), 4)
        labels.append(row)
    tagged_rows = sorted(row_of[f] for f in tags.values)
    coarse = standardise(torch.from_numpy(feats.coarse.reshape(n, -1)).float())           # (N, 6 * 32 * 32)
    picks = choose_suggestions(coarse, probs, tagged_rows, suggest) if suggest else []
    suggestions = [{"file_name": feats.files[i], "score": round(s, 4),
                    "least_sure": min(probs, key=lambda a: float(probs[a][i].max())),
                    "pseudo_labels": {a: labels[i][a] for a in vocab.names}} for i, s in picks]
    return Result(feats.files, vocab, labels, suggestions, feats.unreadable, scales, time.time() - t0)


def choose_suggestions(coarse: torch.Tensor, probs: dict[str, torch.Tensor], tagged: list[int],
                       k: int) -> list[tuple[int, float]]:
    """Greedy uncertainty x diversity: mean (1 - confidence) over attributes, times the distance (in
    the 32 px view's top principal components) to the nearest tagged or already picked image."""
    n = len(coarse)
    uncertainty = torch.stack([1 - p.max(1).values for p in probs.values()]).mean(0)   # (N,)
    z = principal_components(coarse, 32)                                               # (N, q)
    nearest = torch.full((n,), float("inf"))
    for r in tagged:
        nearest = torch.minimum(nearest, (z - z[r]).norm(dim=1))
    available = torch.ones(n, dtype=torch.bool)
    available[tagged] = False
    picks = []
    for _ in range(min(k, int(available.sum()))):
        spread = nearest.clamp(max=1e30)
        spread = spread / spread[available].max().clamp(min=1e-12) if torch.isfinite(nearest).any() else 1.0
        score = torch.where(available, uncertainty * spread, torch.tensor(-1.0))
        i = int(score.argmax())
        picks.append((i, float(score[i])))
        available[i] = False
        nearest = torch.minimum(nearest, (z - z[i]).norm(dim=1))
    return picks


def principal_components(z: torch.Tensor, q: int) -> torch.Tensor:
    """Scores on the top ``q`` principal components (a randomised SVD with a fixed seed: same
    input, same suggestions; the global RNG is left alone)."""
    z = z - z.mean(0)
    q = min(q, *z.shape)
    probe = torch.randn(z.shape[1], q + 8, generator=torch.Generator().manual_seed(0))
    basis, _ = torch.linalg.qr(z @ probe)                                  # (N, q + 8)
    u, s, _ = torch.linalg.svd(basis.T @ z, full_matrices=False)
    return (basis @ u[:, :q]) * s[:q]


# ---- output folder --------------------------------------------------------------------------
def write_output(result: Result, images: Path, out: Path, min_confidence: float = 0.0) -> dict:
    """OUT/images (RGBA PNG: hard links where the source already is one), metadata.jsonl,
    vocabulary.json, suggest.jsonl. Returns counts."""
    out = Path(out)
    (out / IMAGES).mkdir(parents=True, exist_ok=True)
    rows, dropped = [], 0
    for name, labels in zip(result.files, result.labels):
        if any(labels[f"{a}{CONFIDENCE}"] < min_confidence for a in result.vocab.categorical):
            dropped += 1
            continue
        target = Path(IMAGES) / Path(name).with_suffix(".png")
        rows.append({"file_name": target.as_posix(), **labels})
        place_image(Path(images) / name, out / target)
    _write(out / METADATA, "".join(json.dumps(r) + "\n" for r in rows))
    vocab = result.vocab
    _write(out / VOCABULARY, json.dumps({"categorical": vocab.categorical, "colors": vocab.colors,
                                         "palettes": vocab.palettes, "color_sources": vocab.color_sources},
                                        indent=1) + "\n")
    _write(out / SUGGEST, "".join(json.dumps(s) + "\n" for s in result.suggest))
    return {"rows": len(rows), "left_out": dropped}


def place_image(source: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    if target.exists():
        target.unlink()
    with Image.open(source) as im:
        is_rgba_png = im.format == "PNG" and im.mode == "RGBA"
        if not is_rgba_png:
            to_rgba(im).save(target)
            return
    try:
        os.link(source, target)
    except OSError:
        target.write_bytes(source.read_bytes())


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


@stage_main("python -m train.label")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.label", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--images", type=Path, help="folder of unlabelled images")
    parser.add_argument("--tags", type=Path,
                        help="TAGS.jsonl: a few tagged images (default with --serve: DIR/tags.jsonl)")
    parser.add_argument("--out", type=Path, help="output folder (a training folder for train.train)")
    parser.add_argument("--suggest", type=int, default=0, metavar="K", help="write the K images to tag next")
    parser.add_argument("--vocabulary", type=Path, default=None, help="vocabulary.json declaring the classes")
    parser.add_argument("--size", type=int, default=128, help="working side in pixels (default 128)")
    parser.add_argument("--min-confidence", type=float, default=0.0,
                        help="leave out rows less sure than this on any categorical attribute (default 0: keep all)")
    parser.add_argument("--cache", type=Path, default=None, help="feature cache folder (default OUT/.cache)")
    parser.add_argument("--serve", type=Path, default=None, metavar="DIR", help="open the tagging page for DIR")
    parser.add_argument("--port", type=int, default=7861, help="tagging page port (default 7861)")
    args = parser.parse_args(argv)
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.serve is not None:
        from train.label_page import serve
        serve(args.serve, args.tags, args.out, args.vocabulary, args.size, args.cache, args.port)
        return
    missing = [f"--{n}" for n in ("images", "tags", "out") if getattr(args, n) is None]
    if missing:
        parser.error(f"{', '.join(missing)} required (or --serve DIR)")
    if args.suggest < 0 or args.size < 16 or not 0 <= args.min_confidence <= 1:
        parser.error("--suggest must be >= 0, --size >= 16, --min-confidence in [0, 1]")
    run(args.images, args.tags, args.out, args.suggest, args.vocabulary, args.size,
        args.min_confidence, args.cache)


def run(images: Path, tags: Path, out: Path, suggest: int = 0, vocabulary: Path | None = None,
        size: int = 128, min_confidence: float = 0.0, cache: Path | None = None, progress: bool = True,
        log=print) -> Result:
    result = label(images, tags, size, vocabulary, suggest, cache or Path(out) / ".cache",
                   progress, log, skip=out)
    counts = write_output(result, images, out, min_confidence)
    mean = {a: round(float(np.mean([r[f"{a}{CONFIDENCE}"] for r in result.labels])), 3)
            for a in result.vocab.categorical}
    log(f"wrote {out}/{METADATA}: {counts['rows']} rows ({counts['left_out']} left out below "
        f"--min-confidence {min_confidence}), {len(result.suggest)} suggestions, {result.seconds:.1f} s")
    log(f"mean confidence: {json.dumps(mean)}; views chosen: {json.dumps(result.scales)}")
    return result


if __name__ == "__main__":
    sys.exit(main())

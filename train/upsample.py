"""Stage 5: train the export upsampler (generator palette logits at 128 px -> crisp 512 / 1024 px).

Example (the shipped one: 1500 avatars at 512 px, the first 1000 of them at 1024 px; the first
head, then a warm-started stage that also minimises each crop's GMSD, on one core):
    python -m train.render_dataset --out data/up512 --n 1500 --size 512 --seed 11 --workers 1
    python -m train.render_dataset --out data/up1024 --n 1000 --size 1024 --seed 11 --workers 1
    python -m train.upsample --data data/up512 data/up1024 --weights weights/avatar-studio \\
        --out runs/up1 --steps 8000 --minutes 65
    python -m train.upsample ... --resume          # continue a stopped run from its last checkpoint
    python -m train.upsample --data data/up512 data/up1024 --out runs/up3 --init_from weights/avatar-studio \\
        --lr 5e-4 --grad 2 --gms 0.3 --steps 4000 --minutes 50 --export weights/avatar-studio

Training pairs are exact and free: every row of a rendered folder records its labels and its
unlabelled choices (hat colour, accessory colour, shirt graphic), so the generator of --weights
(trained with ``--codes data``) reproduces the row at its native size from them, and the folder
holds the vector art's own render at 512 or 1024 px. A style with every part labelled
(big-smile: nothing unlabelled to record) was trained with codes from an encoder that is not
shipped; its rows' codes are read off their renders instead (``fit_codes``). Several folders of the same rows (same
--seed; a later folder may hold only the first rows, a smaller --n) train every size at once.
Each row gives --crops fixed windows; a step takes --batch of them (fewer at larger sizes: the
same pixel count per size). The head starts as plain logit upsampling (its output layer is zero) and learns the
residual logits; the loss is L1 of the RGBA composited on mid-grey, plus --grad x L1 of its
gradients, plus --gms x its GMSD per crop (``train.losses.gmsd``, the evaluation's edge metric).
--init_from starts from another run's newest checkpoint or from a weights folder's upsampler.
--export writes upsampler.json + upsampler.safetensors into a weights folder (and its checksums).
"""
from __future__ import annotations

import argparse
import math
import dataclasses
import json
import time
from dataclasses import dataclass
from pathlib import Path

import train  # noqa: F401  (sets OMP_WAIT_POLICY before torch starts)
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image
from tqdm import tqdm

from avatar_studio.generator import Generator, paint
from avatar_studio.weights import WeightsError, load_generator
from avatar_studio.upsampler import UPSAMPLER_CONFIG, Upsampler, UpsamplerConfig, has_upsampler, load_upsampler, save_upsampler
from train import checkpoint, losses
from train.dataset import encode_unlabelled, read_metadata, read_unlabelled
from train.train import batch_ids


@dataclass
class UpsampleConfig:
    steps: int = 8000
    batch: int = 12
    lr: float = 2e-3
    crops: int = 3                   # fixed windows per row
    crop: int = 24                   # window side in native pixels (the head sees crop + 2 margin)
    margin: int = 4                  # context around a window (>= the head's receptive radius)
    grad: float = 1.0                # weight of the gradient L1 (edges)
    gms: float = 0.0                 # weight of the GMSD of each crop (gradient magnitude similarity deviation)
    width: int = 32
    layers: int = 3
    factor: int = 4
    seed: int = 0
    threads: int = 1
    log_every: int = 50
    checkpoint_every: int = 250
    minutes: float = 0.0             # stop (with a checkpoint) after this wall time; 0 = no limit
    init_from: str = ""              # warm start (fresh schedule): the head of another run's newest checkpoint,
                                     # or of a weights folder's upsampler (e.g. the shipped one)


RESUMABLE = ("threads", "log_every", "checkpoint_every", "minutes")
GREY = 0.5  # the background the loss (and train.evaluate_export) composites on


def composite(rgba: torch.Tensor) -> torch.Tensor:
    """Straight-alpha RGBA (B, 4, H, W) -> RGB on mid-grey (B, 3, H, W)."""
    return rgba[:, :3] * rgba[:, 3:] + GREY * (1 - rgba[:, 3:])


def loss_terms(fake: torch.Tensor, real: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(L1 of the grey composites, L1 of their x/y differences, their mean GMSD per crop)."""
    a, b = composite(fake), composite(real)
    grad = ((a.diff(dim=-1) - b.diff(dim=-1)).abs().mean() + (a.diff(dim=-2) - b.diff(dim=-2)).abs().mean())
    return (a - b).abs().mean(), grad, losses.gmsd(a, b).mean()


@torch.inference_mode()
def generator_outputs(generator: Generator, rows: list[dict], codes: torch.Tensor) -> tuple[torch.Tensor, ...]:
    """The generator's (mix logits, palette, alpha logits) of every row from its labels and codes."""
    vocab = generator.config.vocab
    mixes, palettes, alphas = [], [], []
    for i in tqdm(range(len(rows)), desc="generator", unit="img"):
        index, rgb = vocab.encode([rows[i]])
        one_hot = F.one_hot(codes[i:i + 1], generator.config.code_classes).float()
        m, p, a = generator.palette_synthesis(generator.mapping_codes(one_hot, index, rgb))
        mixes.append(m.half()), palettes.append(p), alphas.append(a.half())
    return torch.cat(mixes), torch.cat(palettes), torch.cat(alphas)


@torch.inference_mode()
def fit_codes(generator: Generator, rows: list[dict], folder: Path, sweeps: int = 2) -> torch.Tensor:
    """(N, n_codes) style codes for rows that record none: a style whose every part is labelled was
    trained with codes read off the images by an encoder that is not shipped. Each row's codes are
    those whose picture at the native size is nearest (L1 on mid-grey) to its render, box-reduced to
    that size: coordinate descent, all classes of one code in one batch, ``sweeps`` times over the codes.
    (big-smile's generator all but ignores its codes: over 100 renders, 32 code choices each, the L1
    error moved by at most 7e-5, on a mean error near 4e-3.)"""
    vocab, K, U, R = generator.config.vocab, generator.config.code_classes, generator.config.n_codes, generator.config.resolution
    fitted = torch.zeros(len(rows), U, dtype=torch.long)
    for i in tqdm(range(len(rows)), desc="fit codes", unit="img"):
        with Image.open(folder / rows[i]["file_name"]) as im:
            small = im.convert("RGBA").resize((R, R), Image.BOX)
        target = composite(torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).permute(2, 0, 1)[None])
        index, rgb = vocab.encode([rows[i]])
        for _ in range(sweeps):
            for u in range(U):
                trial = fitted[i].repeat(K, 1)
                trial[:, u] = torch.arange(K)
                w = generator.mapping_codes(F.one_hot(trial, K).float(), index.expand(K, -1), rgb.expand(K, -1, -1))
                picture = composite(paint(*generator.palette_synthesis(w)))
                fitted[i, u] = int((picture - target).abs().mean(dim=(1, 2, 3)).argmin())
    return fitted


class PairSet:
    """Fixed crop windows: generator logits (with margin) at the native size, the renders' pixels at each size."""

    def __init__(self, folders: list[Path], weights: Path, cfg: UpsampleConfig):
        rows, counts = None, []
        for folder in folders:
            vocab, r = read_metadata(folder)
            if rows is not None and r != rows[:len(r)]:
                raise SystemExit(f"{folder} holds other avatars than {folders[0]}: render every --data folder "
                                 f"with the same --seed (and the first with the largest --n)")
            rows = rows or r
            counts.append(len(r))
        self.counts = counts
        unlabelled = read_unlabelled(folders[0])
        codes = encode_unlabelled(rows, unlabelled)
        if codes is None and unlabelled:
            raise SystemExit(f"{folders[0]} does not record the unlabelled choices (hat colour ...): "
                             f"render it with python -m train.render_dataset")
        generator = load_generator(weights)
        if generator.config.vocab.conditioning() != vocab.conditioning():
            raise SystemExit(f"{folders[0]} was rendered with another vocabulary than {weights}'s generator")
        if codes is None:        # a style with every part labelled (big-smile): codes read off its renders
            codes = fit_codes(generator, rows, folders[0])
        mix, self.palette, alpha = generator_outputs(generator, rows, codes)
        self.generator_id = f"{generator.config.name}@{generator.config.version}"
        self.n_mix = generator.n_mix
        self.resolution = R = generator.config.resolution
        c, m = cfg.crop, cfg.margin
        self.sizes = []
        for folder in folders:
            with Image.open(folder / rows[0]["file_name"]) as im:
                size = im.size[0]
            if size % (R * cfg.factor):
                raise SystemExit(f"{folder}: {size} px is not a multiple of {cfg.factor} x the generator's {R} px")
            self.sizes.append(size)
        logits = F.pad(torch.cat([mix, alpha], dim=1).float(), (m, m, m, m), mode="replicate").half()
        rng = np.random.default_rng(cfg.seed)
        self.windows = [(i, int(y), int(x)) for i in range(len(rows))
                        for y, x in rng.integers(0, R - c + 1, size=(cfg.crops, 2))]
        self.inputs = torch.stack([logits[i, :, y:y + c + 2 * m, x:x + c + 2 * m] for i, y, x in self.windows])
        self.targets = []
        for folder, size, count in zip(folders, self.sizes, counts):
            s = size // R
            out = torch.empty(count * cfg.crops, 4, c * s, c * s, dtype=torch.uint8)  # windows of its rows
            for i in tqdm(range(count), desc=f"renders {size}px", unit="img"):
                with Image.open(folder / rows[i]["file_name"]) as im:
                    arr = torch.from_numpy(np.asarray(im.convert("RGBA")).copy()).permute(2, 0, 1)
                for j in range(cfg.crops):
                    _, y, x = self.windows[i * cfg.crops + j]
                    out[i * cfg.crops + j] = arr[:, y * s:(y + c) * s, x * s:(x + c) * s]
            self.targets.append(out)
        self.row_of = torch.tensor([i for i, _, _ in self.windows])

    def __len__(self) -> int:
        return len(self.windows)


def render_crops(model: Upsampler, inputs: torch.Tensor, palette: torch.Tensor, size_factor: int,
                 cfg: UpsampleConfig) -> torch.Tensor:
    """The upsampler's RGBA of crops (with margin) at ``size_factor`` x native, margin cut off."""
    x = inputs.float()
    m, a = model.logits(x[:, :-1], palette, x[:, -1:])
    side = x.shape[-1] * size_factor
    rgba = model.paint_logits(m, a, palette, side)
    cut = cfg.margin * size_factor
    return rgba[:, :, cut:side - cut, cut:side - cut]


def warm_start(source: Path, ucfg: UpsamplerConfig) -> dict:
    """The head weights to start from: a weights folder's upsampler (loaded strictly, checksums checked)
    or a run's newest checkpoint; either must be this head (``ucfg``)."""
    if has_upsampler(source):
        try:
            model = load_upsampler(source, ucfg.generator, ucfg.n_mix)
        except WeightsError as e:
            raise SystemExit(f"--init_from: {e}") from None
        found, state = dataclasses.asdict(model.config), model.state_dict()
    else:
        warm = checkpoint.load_latest(source)
        if warm is None:
            raise SystemExit(f"--init_from: {source} holds neither an upsampler ({UPSAMPLER_CONFIG}) nor a usable "
                             f"checkpoint")
        found, state = warm["upsampler_config"], warm["model"]
    if found != dataclasses.asdict(ucfg):
        raise SystemExit(f"--init_from: {source} holds another head {found}, not {dataclasses.asdict(ucfg)}")
    return {k: v.contiguous() for k, v in state.items()}


def train_upsampler(folders: list[Path], weights: Path, out: Path, cfg: UpsampleConfig, resume: bool = False,
                    progress: bool = True) -> Path:
    torch.set_num_threads(cfg.threads)
    out.mkdir(parents=True, exist_ok=True)
    state = None
    if resume:
        state = checkpoint.load_latest(out)
        if state is None:
            raise SystemExit(f"--resume: no usable checkpoint in {out}")
        old = dataclasses.asdict(dataclasses.replace(cfg, **state["train_config"]))
        if any(old[k] != v for k, v in dataclasses.asdict(cfg).items() if k not in RESUMABLE):
            raise SystemExit(f"--resume: {out} was trained with other settings {state['train_config']}")
    elif checkpoint.list_checkpoints(out):
        raise SystemExit(f"{out} already holds checkpoints: pass --resume to continue, or another --out")
    data = PairSet(folders, weights, cfg)
    ucfg = UpsamplerConfig(generator=data.generator_id, n_mix=data.n_mix, factor=cfg.factor, width=cfg.width,
                           layers=cfg.layers)
    torch.manual_seed(cfg.seed)
    model = Upsampler(ucfg)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99))
    start = 0
    if state is not None:
        model.load_state_dict(state["model"], strict=True)
        opt.load_state_dict(state["optimizer"])
        start = state["step"]
    elif cfg.init_from:
        model.load_state_dict(warm_start(Path(cfg.init_from), ucfg), strict=True)
    record = {**dataclasses.asdict(cfg), "data": {str(f): n for f, n in zip(folders, data.counts)},
              "weights": str(weights), "upsampler": dataclasses.asdict(ucfg)}
    (out / "upsample_config.json").write_text(json.dumps(record, indent=1) + "\n")
    factors = [size // data.resolution for size in data.sizes]
    metrics = open(out / "metrics.jsonl", "a")
    t0 = time.time()
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, desc="upsample", unit="step",
               disable=not progress)
    for step in bar:
        ids = batch_ids(len(data), cfg.batch, step, cfg.seed)
        palette = data.palette[data.row_of[ids]]
        for group in opt.param_groups:
            group["lr"] = cfg.lr * 0.5 * (1 + math.cos(math.pi * step / cfg.steps))
        l1 = grad = gms = torch.zeros(())
        for factor, targets in zip(factors, data.targets):
            n = max(1, len(ids) * factors[0] ** 2 // factor ** 2)  # the same pixel count at every size
            keep = (ids < len(targets)).nonzero().squeeze(1)[:n]  # a folder may hold only the first rows
            fake = render_crops(model, data.inputs[ids[keep]], palette[keep], factor, cfg)
            a, b, c = loss_terms(fake, targets[ids[keep]].float() / 255)
            l1, grad, gms = l1 + a, grad + b, gms + c
        loss = l1 + cfg.grad * grad + cfg.gms * gms
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        done = step + 1
        if done % cfg.log_every == 0 or done == cfg.steps:
            row = {"step": done, "loss": loss.item(), "l1": l1.item(), "grad": grad.item(), "gms": gms.item(),
                   "sharpness": model.log_sharpness.exp().tolist(), "minutes": round((time.time() - t0) / 60, 2)}
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            bar.set_postfix(l1=f"{row['l1']:.4f}", grad=f"{row['grad']:.4f}")
        out_of_time = cfg.minutes > 0 and time.time() - t0 > cfg.minutes * 60
        if done % cfg.checkpoint_every == 0 or done == cfg.steps or out_of_time:
            checkpoint.save(out, done, {"step": done, "model": model.state_dict(), "optimizer": opt.state_dict(),
                                        "train_config": dataclasses.asdict(cfg),
                                        "upsampler_config": dataclasses.asdict(ucfg)})
        if out_of_time:
            break
    bar.close()
    metrics.close()
    return out


def export_upsampler(run: Path, weights: Path) -> Path:
    """The run's newest checkpoint -> upsampler.json + upsampler.safetensors in ``weights`` (+ checksums)."""
    state = checkpoint.load_latest(run)
    if state is None:
        raise SystemExit(f"no usable checkpoint in {run}")
    model = Upsampler(UpsamplerConfig(**state["upsampler_config"]))
    model.load_state_dict(state["model"], strict=True)
    save_upsampler(model, weights)
    return weights


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.upsample", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, nargs="+", required=True,
                        help="rendered folders of the same avatars, one per export size (e.g. 512 and 1024 px)")
    parser.add_argument("--weights", type=Path, default=Path("weights/avatar-studio"),
                        help="the generator's weights folder (default: the shipped one)")
    parser.add_argument("--out", type=Path, required=True, help="run folder (checkpoints, metrics.jsonl)")
    parser.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint")
    parser.add_argument("--export", type=Path, default=None,
                        help="after training, write the upsampler into this weights folder")
    for f in dataclasses.fields(UpsampleConfig):  # one flag per setting; unset flags keep the default
        parser.add_argument(f"--{f.name}", type=type(f.default), default=None)
    args = parser.parse_args(argv)
    overrides = {f.name: getattr(args, f.name) for f in dataclasses.fields(UpsampleConfig)
                 if getattr(args, f.name) is not None}
    cfg = dataclasses.replace(UpsampleConfig(), **overrides)
    train_upsampler(args.data, args.weights, args.out, cfg, resume=args.resume)
    if args.export:
        export_upsampler(args.out, args.export)
        print(f"wrote the upsampler into {args.export}")


if __name__ == "__main__":
    main()

"""Stage 2: train the conditional generator on a rendered (or your own) avatar folder.

Example:
    python -m train.train --data data/train128 --preset cpu --out runs/cpu128
    python -m train.train --data data/train128 --preset cpu --out runs/cpu128 --resume
    python -m train.train --data data/tiny --preset tiny --out runs/tiny --steps 20
    torchrun --nproc_per_node 8 -m train.train --data data/train128 --preset gpu --out runs/gpu

Every image comes with its full label set, so the generator is trained as the decoder
of a conditional auto-encoder: labels + discrete style codes -> image, with an L1
reconstruction loss at three scales. The style codes stand for the parts no user picks
(hat colour, accessory colour, shirt graphic). When the data records those choices
(``--codes data``; rendered folders do), code i is simply unlabelled choice i: supervised,
so each code class paints one exact colour or graphic. Otherwise (``--codes encoder``) a
small encoder reads the codes off the image (straight-through Gumbel) and a balance term
keeps every class in use. ``auto`` picks ``data`` when the rows record the choices. Any
field of a preset can be overridden: ``--lr 1e-3 --batch 64``.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn
from tqdm import tqdm

from avatar_studio.generator import Architecture, Generator, GeneratorConfig, const_color_init, paint
from train import checkpoint, classifier, losses, warm_start
from train.dataset import AvatarSet
from train.encoder import CodeEncoder
from train.errors import TrainError, stage_main
from train.legacy import fold_templates, nest_train_config
from train.samples import save_sample_grid


@dataclass
class TrainConfig:
    steps: int = 12000
    batch: int = 32
    lr: float = 2e-3
    lr_warmup: int = 200
    beta2: float = 0.99
    ema_kimg: float = 10.0           # EMA half-life in thousands of images
    balance: float = 0.05            # weight of the code-balance term
    detail: float = 0.0              # extra full-size loss weight on edges (small parts); 0 = plain L1
    palette: float = 0.0             # weight of the palette-choice cross-entropy (losses.palette_choice)
    gumbel_tau: float = 1.0
    # the generator's architecture (avatar_studio.generator.Architecture; its flags are flat: --w-dim)
    arch: Architecture = field(default_factory=lambda: Architecture(template_channels=32))
    encoder_width: int = 32
    seed: int = 0
    log_every: int = 50
    sample_every: int = 1000
    checkpoint_every: int = 500
    threads: int = 0                 # torch CPU threads (0: leave torch's default)
    minutes: float = 0.0             # stop (with a checkpoint) after this wall time; 0 = no limit
    init_from: str = ""              # warm start: generator + encoder weights of another run (fresh schedule)
    codes: str = "encoder"           # style codes: "data" (recorded unlabelled choices), "encoder", or "auto"
    # perceptual critic: an attribute classifier trained on real renders (python -m train.classifier
    # --out DIR), frozen; never the one train.evaluate judges with (runs/classifier)
    critic: str = ""
    perceptual: float = 0.0          # weight of the L1 between the critic's features of fake and real
    classify: float = 0.0            # weight of the critic's cross-entropy on the fake against its labels
    size: int = 0                    # train at this side (the images resized, Lanczos); 0 = the folder's
    # stop a run whose reconstruction loss (mean of 5 logs) rises above this many times its best
    # since the warm-up (0: never); a loss that blew up does not come back down at the same rate
    diverged: float = 2.0


    @classmethod
    def from_dict(cls, saved: dict) -> "TrainConfig":
        """A saved config (train_config.json, a checkpoint's); fields newer than it take their
        default, and a config from before the architecture was nested is read too (train.legacy)."""
        saved = nest_train_config(saved)
        default = cls()
        return dataclasses.replace(default, **{k: v for k, v in saved.items() if k != "arch"},
                                   arch=dataclasses.replace(default.arch, **saved.get("arch", {})))


# settings that change bookkeeping, not the maths: a resumed run may change them
RESUMABLE = ("log_every", "sample_every", "checkpoint_every", "threads", "minutes", "diverged")


def same_maths(saved: dict, cfg: TrainConfig) -> bool:
    """Whether a checkpoint's settings match ``cfg`` (fields newer than the checkpoint take their default)."""
    old = dataclasses.asdict(TrainConfig.from_dict(saved))
    new = dataclasses.asdict(cfg)
    return all(old[k] == new[k] for k in new if k not in RESUMABLE)


CODE_SOURCES = ("auto", "data", "encoder")

PRESETS = {
    "cpu": TrainConfig(codes="auto", detail=4.0, palette=0.1,
                       arch=Architecture(template_channels=32, free_colors=6, const_colors=6)),
    "gpu": TrainConfig(steps=20000, batch=128, lr=3e-3, encoder_width=64, sample_every=2000, checkpoint_every=1000,
                       codes="auto", detail=4.0, palette=0.1,
                       arch=Architecture(channels=[256, 192, 128, 64], w_dim=384, template_channels=32, free_colors=6,
                                         const_colors=6)),
    "tiny": TrainConfig(steps=20, batch=8, lr_warmup=2, encoder_width=8, log_every=5, sample_every=10,
                        checkpoint_every=10, codes="auto",
                        arch=Architecture(channels=[16, 8, 8], w_dim=32, embed_dim=8, template_channels=4)),
}


class AutoEncoder(nn.Module):
    """Encoder (None with codes from the data) + generator in one module, so DDP can wrap a single forward."""

    def __init__(self, generator: Generator, encoder: CodeEncoder | None):
        super().__init__()
        self.generator, self.encoder = generator, encoder

    def forward(self, images, index, rgb, tau: float, known: torch.Tensor | None = None):
        """-> (fake, code logits, mix logits, palette); ``known`` (B, n_codes) are recorded code classes
        (then the code logits are None)."""
        if known is not None:
            codes, logits = F.one_hot(known, self.generator.config.code_classes).to(rgb.dtype), None
        else:
            logits = self.encoder(images)  # (B, n_codes, K)
            codes = F.gumbel_softmax(logits, tau=tau, hard=True)
        mix, palette, alpha = self.generator.palette_synthesis(self.generator.mapping_codes(codes, index, rgb))
        return paint(mix, palette, alpha), logits, mix, palette


@dataclass
class DivergenceWatch:
    """Watches the logged reconstruction loss for a blow-up: adventurer's plain stage at lr 2e-3 went
    from 0.48 to 1.03 (mean of 5 logs) at step 1,600 and painted blank faces for the 10,000 steps it
    was left to run; at lr 1e-3 it learns. Normal runs stay within 1.12x their best (big-smile, 9,000
    steps). ``add`` returns the message that stops the run, or None."""
    factor: float                    # TrainConfig.diverged (0: never stops)
    after: int                       # the warm-up: the loss may rise while the learning rate does
    lr: float
    window: int = 5
    recent: list = field(default_factory=list)
    best: float = math.inf
    best_step: int = 0

    def add(self, step: int, recon: float) -> str | None:
        if not self.factor or step <= self.after:
            return None
        self.recent = (self.recent + [recon])[-self.window:]
        if len(self.recent) < self.window:
            return None
        mean = sum(self.recent) / self.window
        if mean < self.best:  # (a NaN is never below)
            self.best, self.best_step = mean, step
        if mean <= self.factor * self.best and math.isfinite(mean):
            return None
        rose = (f"rose to {mean:.4g} (mean of the last {self.window} logs, step {step}), {mean / self.best:.1f}x its "
                f"best {self.best:.4g} (step {self.best_step})" if math.isfinite(mean) else f"is {mean} at step {step}")
        return (f"training diverged: the reconstruction loss {rose}. The run stops here; start it again with a "
                f"lower --lr (this run: {self.lr:g}), e.g. --lr {self.lr / 2:g}, or pass --diverged 0 to let it go on")


def code_source(cfg: TrainConfig, dataset: AvatarSet) -> str:
    """Resolve ``cfg.codes`` for this data: "data" or "encoder" (TrainError when it can't be)."""
    if cfg.codes not in CODE_SOURCES:
        raise TrainError(f"--codes {cfg.codes!r}: choose one of {', '.join(CODE_SOURCES)}")
    if cfg.codes == "encoder" or (cfg.codes == "auto" and dataset.codes is None):
        return "encoder"
    if dataset.codes is None:
        raise TrainError("--codes data: the rows don't record unlabelled choices "
                         "(no \"unlabelled\" block in vocabulary.json, or no such keys in metadata.jsonl)")
    sizes = {name: len(choices) for name, choices in dataset.unlabelled.items()}
    if cfg.arch.n_codes != len(sizes) or cfg.arch.code_classes < max(sizes.values()):
        raise TrainError(f"--codes data: the data records {len(sizes)} unlabelled choices {sizes}; "
                         f"set --n-codes {len(sizes)} --code-classes {max(sizes.values())} (or more)")
    return "data"


def batch_ids(n: int, batch: int, step: int, seed: int, rank: int = 0, world: int = 1) -> torch.Tensor:
    """Row ids of ``step``: epochs of a seeded permutation, so a resumed run sees the same data."""
    per_epoch = n // (batch * world)
    epoch, offset = divmod(step, per_epoch)
    perm = torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100003 + epoch))
    start = (offset * world + rank) * batch
    return perm[start:start + batch]


def learning_rate(cfg: TrainConfig, step: int) -> float:
    warm = min(1.0, (step + 1) / cfg.lr_warmup)
    return cfg.lr * warm * 0.5 * (1 + math.cos(math.pi * min(step / cfg.steps, 1.0)))


def train(data: Path, out: Path, cfg: TrainConfig, resume: bool = False, progress: bool = True) -> Path:
    world = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    device = torch.device(f"cuda:{int(os.environ.get('LOCAL_RANK', '0'))}" if torch.cuda.is_available() else "cpu")
    if world > 1:
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    main = rank == 0
    out.mkdir(parents=True, exist_ok=True)

    dataset = AvatarSet(data, size=cfg.size or _image_size(data))
    resolution = dataset.images.shape[-1]
    gcfg = GeneratorConfig(**dataclasses.asdict(cfg.arch), vocabulary=dataset.vocab.to_dict(), name=out.name,
                           resolution=resolution, base_res=resolution // 2 ** len(cfg.arch.channels))
    source = code_source(cfg, dataset)
    torch.manual_seed(cfg.seed)
    encoder = CodeEncoder(cfg.arch.n_codes, cfg.arch.code_classes, cfg.encoder_width) if source == "encoder" else None
    model = AutoEncoder(Generator(gcfg), encoder).to(device)
    ema = Generator(gcfg).to(device).requires_grad_(False)
    ema.load_state_dict(model.generator.state_dict())
    critic = load_critic(cfg, dataset, device)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr, betas=(0.9, cfg.beta2))

    start = 0
    if resume:
        state = checkpoint.load_latest(out)
        if state is None:
            raise TrainError(f"--resume: no usable checkpoint in {out}")
        if "generator.templates.weight" in state["model"]:
            raise TrainError(f"--resume: {out} holds part templates in the form before per-class maps; "
                             f"start a new run from it with --init-from {out}")
        if not same_maths(state["train_config"], cfg):
            raise TrainError(f"--resume: {out} was trained with other settings {state['train_config']}")
        model.load_state_dict(state["model"], strict=True)
        ema.load_state_dict(state["ema"], strict=True)
        opt.load_state_dict(state["optimizer"])
        torch.set_rng_state(state["rng"])
        start = state["step"]
    elif checkpoint.list_checkpoints(out):
        raise TrainError(f"{out} already holds checkpoints: pass --resume to continue, or another --out")
    elif cfg.init_from:
        state = warm_start.load_source(Path(cfg.init_from))
        if state is None:
            raise TrainError(f"--init-from: no usable checkpoint in {cfg.init_from} (nor a warm-start pack)")
        old = state["generator_config"]
        _load_grown(model, grow_palette(fold_templates(state["model"], gcfg), old, gcfg), cfg.init_from)
        _load_grown(ema, grow_palette(fold_templates(state["ema"], gcfg), old, gcfg), cfg.init_from)
    if main:
        if resume:
            _drop_metrics_after(out / "metrics.jsonl", start)
        (out / "train_config.json").write_text(json.dumps(dataclasses.asdict(cfg), indent=1) + "\n")
        (out / "generator_config.json").write_text(json.dumps(dataclasses.asdict(gcfg), indent=1) + "\n")

    net = nn.parallel.DistributedDataParallel(model) if world > 1 else model
    ema_beta = 0.5 ** (cfg.batch * world / (cfg.ema_kimg * 1000))
    autocast = torch.autocast("cuda", dtype=torch.bfloat16, enabled=device.type == "cuda")
    metrics = open(out / "metrics.jsonl", "a") if main else None
    watch = DivergenceWatch(cfg.diverged, cfg.lr_warmup, cfg.lr)
    t0, seen = time.time(), 0
    bar = tqdm(range(start, cfg.steps), initial=start, total=cfg.steps, disable=not (main and progress),
               desc="train", unit="step")
    step = start
    for step in bar:
        ids = batch_ids(len(dataset), cfg.batch, step, cfg.seed, rank, world)
        images, index, rgb = (t.to(device) for t in dataset.batch(ids))
        known = dataset.codes[ids].to(device) if source == "data" else None
        for group in opt.param_groups:
            group["lr"] = learning_rate(cfg, step)
        with autocast:
            fake, logits, mix, palette = net(images, index, rgb, cfg.gumbel_tau, known)
        recon = losses.reconstruction(fake.float(), images, detail=cfg.detail)
        balance = losses.code_balance(logits) if logits is not None else torch.zeros((), device=device)
        choice = (losses.palette_choice(mix, palette.float(), images, fake.float()) if cfg.palette
                  else torch.zeros((), device=device))
        if critic is not None:
            with autocast:
                feature, label_ce = losses.critic_terms(critic, fake, images, index)
        else:
            feature = label_ce = torch.zeros((), device=device)
        loss = recon + cfg.balance * balance + cfg.palette * choice + cfg.perceptual * feature + cfg.classify * label_ce
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        with torch.no_grad():
            for p_ema, p in zip(ema.parameters(), model.generator.parameters()):
                p_ema.lerp_(p, 1 - ema_beta)
        seen += len(ids) * world
        done = step + 1
        if main and (done % cfg.log_every == 0 or done == cfg.steps):
            row = {"step": done, "kimg": round(done * cfg.batch * world / 1000, 3), "loss": loss.item(),
                   "recon": recon.item(), "balance": balance.item(), "palette": choice.item(),
                   "feature": feature.item(), "label_ce": label_ce.item(),
                   "lr": learning_rate(cfg, step),
                   "img_per_s": round(seen / (time.time() - t0), 2), "minutes": round((time.time() - t0) / 60, 2)}
            metrics.write(json.dumps(row) + "\n")
            metrics.flush()
            bar.set_postfix(recon=f"{row['recon']:.4f}", bal=f"{row['balance']:.3f}", ips=row["img_per_s"])
        if done % cfg.log_every == 0:
            stop = watch.add(done, recon.item())  # every rank its own; they stop together
            if world > 1:
                flag = torch.tensor([float(stop is not None)], device=device)
                dist.all_reduce(flag, op=dist.ReduceOp.MAX)
                stop = stop or ("training diverged on another rank" if flag.item() else None)
            if stop:
                bar.close()
                if metrics:
                    metrics.close()
                if world > 1:
                    dist.destroy_process_group()
                raise TrainError(stop)
        out_of_time = cfg.minutes > 0 and time.time() - t0 > cfg.minutes * 60
        if main and (done % cfg.sample_every == 0 or done == cfg.steps or out_of_time):
            save_sample_grid(ema, dataset, out / "samples" / f"step-{done:07d}.png")
        if main and (done % cfg.checkpoint_every == 0 or done == cfg.steps or out_of_time):
            checkpoint.save(out, done, {
                "step": done, "model": model.state_dict(), "ema": ema.state_dict(),
                "optimizer": opt.state_dict(), "rng": torch.get_rng_state(),
                "train_config": dataclasses.asdict(cfg), "generator_config": dataclasses.asdict(gcfg),
                "codes": source})
        if out_of_time:
            break
    bar.close()
    if metrics:
        metrics.close()
    if world > 1:
        dist.destroy_process_group()
    return out


def load_critic(cfg: TrainConfig, dataset: AvatarSet, device: torch.device) -> nn.Module | None:
    """The frozen critic classifier of ``cfg.critic`` (None when no critic term is on)."""
    if not (cfg.perceptual or cfg.classify):
        if cfg.critic:
            raise TrainError(f"--critic {cfg.critic}: set --perceptual and/or --classify above 0, "
                             "or the critic would be loaded for nothing")
        return None
    if not cfg.critic:
        raise TrainError("--perceptual/--classify need --critic DIR: an attribute classifier trained on real "
                         "renders (python -m train.classifier --data DIR --out runs/critic --seed 1)")
    try:
        model, _ = classifier.load(Path(cfg.critic))
    except TrainError as e:
        raise TrainError(f"--critic: {e}") from None
    if model.config.vocabulary != dataset.vocab.conditioning():
        raise TrainError(f"--critic: {cfg.critic} was trained on another vocabulary than the data's")
    if model.config.size != dataset.images.shape[-1]:
        raise TrainError(f"--critic: {cfg.critic} reads {model.config.size} px images, the data is "
                         f"{dataset.images.shape[-1]} px")
    return model.to(device).eval().requires_grad_(False)


GROWN = ("templates", "template_bias", "template_proj.")  # a warm start may add these (template_proj starts at 0)


def _load_grown(module: nn.Module, state: dict, source: str) -> None:
    """Load a warm-start state; only the modules in GROWN may be new, nothing may be left over
    (except the encoder of a run whose codes came from an encoder, when these come from the data)."""
    missing, unexpected = module.load_state_dict(state, strict=False)
    dropped = isinstance(module, AutoEncoder) and module.encoder is None
    bad = [k for k in missing if not k.split("generator.")[-1].startswith(GROWN)] + [
        k for k in unexpected if not (dropped and k.startswith("encoder."))]
    if bad:
        raise TrainError(f"--init-from {source}: its weights don't fit this model ({', '.join(bad[:5])})")


def grow_palette(state: dict, old: dict, new: GeneratorConfig) -> dict:
    """A warm-start state with the output palette grown to ``new``'s free and constant colours.

    Old mix channels keep their weights; new ones start as unused choices (a low logit), new free
    colours near grey and new constants at their starting hues, so the warm-started generator paints
    what it painted before. New weights get a little seeded noise: new channels that started equal
    would get equal gradients and stay one colour.
    """
    f_old, k_old = old.get("free_colors", 4), old.get("const_colors", 2)
    if (f_old, k_old) == (new.free_colors, new.const_colors):
        return state
    if new.free_colors < f_old or new.const_colors < k_old:
        raise TrainError(f"--init-from: the palette can grow, not shrink (free {f_old} -> {new.free_colors}, "
                         f"constant {k_old} -> {new.const_colors})")
    n_c = new.n_colors
    n_old = n_c + f_old + k_old
    keep = list(range(n_c + f_old)) + [n_c + new.free_colors + i for i in range(k_old)] + [-1]  # new positions
    state = dict(state)
    for prefix in ("", "generator."):
        if prefix + "head.weight" not in state:
            continue
        w, b = state[prefix + "head.weight"], state[prefix + "head.bias"]  # (C, n_old + 1, 4, 4), (n_old + 1,)
        n_new = n_c + new.free_colors + new.const_colors
        noise = torch.Generator().manual_seed(0)
        w2 = (torch.randn(w.shape[0], n_new + 1, *w.shape[2:], generator=noise) * 1e-2).to(w)
        b2 = b.new_full((n_new + 1,), float(b[:n_old].min()) - 6.0)
        w2[:, keep], b2[keep] = w, b
        state[prefix + "head.weight"], state[prefix + "head.bias"] = w2, b2
        fw, fb = state[prefix + "free_color.weight"], state[prefix + "free_color.bias"]
        extra = torch.randn(3 * (new.free_colors - f_old), fw.shape[1], generator=noise) * 1e-2
        state[prefix + "free_color.weight"] = torch.cat([fw, extra.to(fw)])
        state[prefix + "free_color.bias"] = torch.cat([fb, fb.new_zeros(3 * (new.free_colors - f_old))])
        const = state[prefix + "const_color"]
        state[prefix + "const_color"] = torch.cat([const, const_color_init(new.const_colors)[k_old:].to(const)])
    return state


def _drop_metrics_after(path: Path, step: int) -> None:
    """On resume: forget what a killed run logged after its checkpoint (and a half-written last line)."""
    if not path.exists():
        return
    kept = []
    for line in path.read_text().splitlines():
        try:
            row = json.loads(line)
        except ValueError:
            continue
        if isinstance(row, dict) and row.get("step", 0) <= step:
            kept.append(line + "\n")
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text("".join(kept))
    os.replace(tmp, path)


def _image_size(folder: Path) -> int:
    from train.dataset import read_metadata
    from PIL import Image
    _, rows = read_metadata(folder)
    with Image.open(Path(folder) / rows[0]["file_name"]) as im:
        return im.size[0]


def flag_fields() -> list[tuple[str | None, dataclasses.Field]]:
    """(group, field) for every setting a flag can override: TrainConfig's own (group None), then
    the architecture's (group "arch"), each typed once in its dataclass."""
    own = [(None, f) for f in dataclasses.fields(TrainConfig) if f.name != "arch"]
    return own + [("arch", f) for f in dataclasses.fields(Architecture)]


def add_dataclass_arguments(parser: argparse.ArgumentParser) -> None:
    """One --flag-with-dashes per setting; unset flags keep the preset's value. The old spelling
    with underscores (--init_from) still works, hidden, with a deprecation note."""
    for _, f in flag_fields():
        default = f.default if f.default is not dataclasses.MISSING else f.default_factory()
        kind = {"nargs": "+", "type": int} if isinstance(default, list) else {"type": type(default)}
        names = [f"--{f.name.replace('_', '-')}"]
        parser.add_argument(*names, dest=f.name, default=None, **kind)
        if "_" in f.name:
            parser.add_argument(f"--{f.name}", dest=f.name, default=None, help=argparse.SUPPRESS, **kind)


def config_from_args(args: argparse.Namespace, argv: list[str]) -> TrainConfig:
    """The preset with the flags given on top (nested ones into ``arch``)."""
    old = sorted({a.split("=")[0] for a in argv if a.startswith("--") and "_" in a.split("=")[0]})
    if old:
        print(f"python -m train.train: note: {', '.join(old)} is spelled with dashes now "
              f"({', '.join(o.replace('_', '-') for o in old)}); the old spelling will go", file=sys.stderr)
    preset = PRESETS[args.preset]
    given = {(group, f.name): getattr(args, f.name) for group, f in flag_fields() if getattr(args, f.name) is not None}
    arch = dataclasses.replace(preset.arch, **{name: v for (group, name), v in given.items() if group == "arch"})
    return dataclasses.replace(preset, **{name: v for (group, name), v in given.items() if group is None}, arch=arch)


@stage_main("python -m train.train")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", type=Path, required=True, help="rendered folder (metadata.jsonl)")
    parser.add_argument("--out", type=Path, required=True, help="run folder, e.g. runs/cpu128")
    parser.add_argument("--preset", choices=sorted(PRESETS), default="cpu")
    parser.add_argument("--resume", action="store_true", help="continue from the newest good checkpoint")
    add_dataclass_arguments(parser)
    argv = sys.argv[1:] if argv is None else argv
    args = parser.parse_args(argv)
    train(args.data, args.out, config_from_args(args, argv), resume=args.resume)


if __name__ == "__main__":
    sys.exit(main())

"""Stage 4: export a training run to a shipped weights folder.

Example:
    python -m train.export runs/cpu128 weights/avatar-studio --version 1 \
        --direction-names "hat colour" "shirt graphic" "glasses colour"

Writes config.json + model.safetensors (EMA generator, via PyTorchModelHubMixin),
directions.json + directions.safetensors (GANSpace-style PCA of w around its
conditional centre, named after what they visibly change), checksums.json, and a
model card README.md (figures from evaluation.json when train.evaluate has run).
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

import train  # noqa: F401
import torch

from avatar_studio import controls
from avatar_studio.generator import Generator, GeneratorConfig, save_generator, write_checksums
from train import checkpoint
from train.model_card import write_model_card


@torch.no_grad()
def find_directions(generator: Generator, k: int, names: list[str], samples: int = 4096,
                    seed: int = 0) -> controls.Directions:
    """PCA of the style part of w minus its conditional centre, over random avatars."""
    cfg = generator.config
    vocab = cfg.vocab
    g = torch.Generator().manual_seed(seed)
    z = torch.randn(samples, cfg.z_dim, generator=g)
    index, rgb = vocab.encode([vocab.resolve({}, z_i) for z_i in z])
    residual = (generator.mapping(z, index, rgb) - generator.mean_w(index, rgb))[:, :cfg.w_dim]
    vectors, scales = controls.principal_directions(residual, k)
    names = list(names) + [f"style {i + 1}" for i in range(len(names), k)]
    return controls.Directions(names[:k], vectors, scales)


def export(run: Path, out: Path, version: str, name: str | None, k: int, names: list[str]) -> Path:
    state = checkpoint.load_latest(run)
    if state is None:
        raise SystemExit(f"no usable checkpoint in {run}")
    gcfg = GeneratorConfig(**{**state["generator_config"], "version": version, "name": name or out.name})
    generator = Generator(gcfg)
    generator.load_state_dict(state["ema"], strict=True)
    generator.eval()
    out.mkdir(parents=True, exist_ok=True)
    save_generator(generator, out)
    find_directions(generator, k, names).save(out)
    write_checksums(out)
    (out / "training.json").write_text(json.dumps({
        "step": state["step"], "train_config": state["train_config"],
        "last_metrics": _last_metrics(run)}, indent=1) + "\n")
    write_checksums(out)
    write_model_card(out)
    return out


def _last_metrics(run: Path) -> dict:
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return json.loads(lines[-1]) if lines else {}


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="training run folder (runs/NAME)")
    parser.add_argument("out", type=Path, help="weights folder to write (weights/NAME)")
    parser.add_argument("--version", default="1")
    parser.add_argument("--name", default=None, help="model name (default: the folder name)")
    parser.add_argument("--directions", type=int, default=5, help="number of slider directions")
    parser.add_argument("--direction-names", nargs="*", default=[], help="names, in PCA order")
    args = parser.parse_args(argv)
    print(export(args.run, args.out, args.version, args.name, args.directions, args.direction_names))


if __name__ == "__main__":
    main()

"""Stage 4: export a training run to a shipped weights folder.

Example:
    python -m train.export runs/cpu128 weights/avatar-studio --version 1 \
        --data data/train128 --code-bank 4096 \
        --direction-names "hat colour" "shirt graphic" "glasses colour"

Writes config.json + model.safetensors or shards (EMA generator, avatar_studio.weights),
directions.json + directions.safetensors (GANSpace-style PCA of w around its
conditional centre, named after what they visibly change), checksums.json, and a
model card README.md (figures from evaluation.json when train.evaluate has run).
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch

from avatar_studio import controls
from avatar_studio.generator import Generator, GeneratorConfig
from avatar_studio.weights import save_directions, save_generator, write_checksums
from train import checkpoint, warm_start
from train.dataset import encode_unlabelled, load_images, read_metadata, read_unlabelled
from train.encoder import CodeEncoder
from train.errors import TrainError, stage_main
from train.legacy import fold_templates
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


@torch.no_grad()
def read_code_bank(state: dict, data: Path, size: int, seed: int = 0) -> torch.Tensor:
    """Style-code tuples (size, n_codes) of ``size`` training images: their recorded unlabelled
    choices when the run trained on those, else what the run's encoder reads off the images."""
    _, rows = read_metadata(data)
    pick = torch.randperm(len(rows), generator=torch.Generator().manual_seed(seed))[:size].tolist()
    if state.get("codes", "encoder") == "data":
        known = encode_unlabelled([rows[i] for i in pick], read_unlabelled(data))
        if known is None:
            raise TrainError(f"{data} does not record the unlabelled choices this run was trained on")
        return known
    gc = state["generator_config"]
    encoder = CodeEncoder(gc["n_codes"], gc["code_classes"], state["train_config"]["encoder_width"])
    encoder.load_state_dict({k[len("encoder."):]: v for k, v in state["model"].items() if k.startswith("encoder.")})
    resolution = gc["resolution"]
    codes = [encoder(load_images(data, [rows[i] for i in pick[j:j + 256]], resolution).float() / 255).argmax(-1)
             for j in range(0, len(pick), 256)]
    return torch.cat(codes)


def export(run: Path, out: Path, version: str, name: str | None, k: int, names: list[str],
           data: Path | None = None, code_bank: int = 0) -> Path:
    state = warm_start.load_source(run)
    if state is None:
        raise TrainError(f"no usable checkpoint in {run}")
    ema = fold_templates(state["ema"], GeneratorConfig(**state["generator_config"]))
    if code_bank:
        if data is None:
            raise TrainError("--code-bank needs --data (the training images to read the codes off)")
        bank = read_code_bank(state, data, code_bank)
        code_bank, ema["code_bank"] = len(bank), bank
    gcfg = GeneratorConfig(**{**state["generator_config"], "version": version, "name": name or out.name,
                              "code_bank": code_bank})
    generator = Generator(gcfg)
    generator.load_state_dict(ema, strict=True)
    generator.eval()
    out.mkdir(parents=True, exist_ok=True)
    save_generator(generator, out)
    save_directions(find_directions(generator, k, names), out)
    write_checksums(out)
    (out / "training.json").write_text(json.dumps(training_record(run, state), indent=1) + "\n")
    write_model_card(out)
    return out


def training_record(run: Path, state: dict) -> dict:
    """What trained these weights: the last run, and every run it was warm-started from."""
    run = Path(run)
    stages, source = [], run
    while source:
        if warm_start.is_pack(Path(source)):  # a committed pack records the stages that made it
            stages[:0] = json.loads((Path(source) / warm_start.META).read_text())["stages"]
            break
        if not (Path(source) / "train_config.json").is_file():
            break
        tc = json.loads((Path(source) / "train_config.json").read_text())
        codes = state.get("codes", "encoder") if Path(source) == run else _stage_codes(Path(source), tc)
        stages.insert(0, {"run": str(source), "last_metrics": _last_metrics(Path(source)), "train_config": tc,
                          "codes": {"data": "the data", "encoder": "the encoder"}.get(codes, codes)})
        source = tc.get("init_from", "")
    return {"step": state["step"], "train_config": state["train_config"], "codes": state.get("codes", "encoder"),
            "last_metrics": _last_metrics(run), "stages": stages}


def _stage_codes(run: Path, tc: dict) -> str:
    """Where an earlier stage's style codes came from (runs before --codes existed used the encoder)."""
    if tc.get("codes", "encoder") != "auto":
        return tc.get("codes", "encoder")
    state = checkpoint.load_latest(run)
    return state.get("codes", "encoder") if state else "unknown"


def _last_metrics(run: Path) -> dict:
    path = run / "metrics.jsonl"
    lines = path.read_text().splitlines() if path.exists() else []
    return json.loads(lines[-1]) if lines else {}


@stage_main("python -m train.export")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="training run folder (runs/NAME)")
    parser.add_argument("out", type=Path, help="weights folder to write (weights/NAME)")
    parser.add_argument("--version", default="1")
    parser.add_argument("--name", default=None, help="model name (default: the folder name)")
    parser.add_argument("--directions", type=int, default=5, help="number of slider directions")
    parser.add_argument("--direction-names", nargs="*", default=[], help="names, in PCA order")
    parser.add_argument("--data", type=Path, default=None, help="training folder, for --code-bank")
    parser.add_argument("--code-bank", type=int, default=0,
                        help="read this many style-code tuples off training images; seeds pick among them "
                             "(0: codes drawn uniformly)")
    args = parser.parse_args(argv)
    print(export(args.run, args.out, args.version, args.name, args.directions, args.direction_names,
                 args.data, args.code_bank))


if __name__ == "__main__":
    sys.exit(main())

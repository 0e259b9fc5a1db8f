"""A run's newest checkpoint as a warm start small enough to commit: training that spans sessions.

Example:
    # at the end of a session: the newest checkpoint of the run, packed into a folder to commit
    python -m train.warm_start runs/big-smile/plain train/styles/progress/big-smile
    # the next session, on any machine: a new run starts from it
    python -m train.train --data data/big-smile/train128 --out runs/big-smile/plain2 \\
        --init-from train/styles/progress/big-smile --detail 0.0 --palette 0.0 --channels 64 48 32 16

A checkpoint (runs/.../checkpoint-*.pt) holds the trained generator, its EMA copy, the code
encoder and Adam's moments: 34 MB for a narrow (64 48 32 16) generator, too big to commit (shipped
files stay under 10 MiB) and data/ and runs/ stay out of git. The pack keeps what a warm start
reads: the EMA generator (used as both the trained and the EMA weights) and the encoder, as
``warm-start.safetensors`` (9.1 MB for that generator), with ``warm-start.json``: the step, the run's
settings, the stages that trained it and the file's sha256, checked on load. No optimizer state: a
pack is a source for ``--init-from`` (a fresh schedule, as between any two stages), never for
``--resume``.
"""
from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

from safetensors.torch import load as load_bytes
from safetensors.torch import save_file

from train import checkpoint
from train.errors import TrainError, stage_main

TENSORS, META = "warm-start.safetensors", "warm-start.json"
LIMIT = 10 * 2 ** 20  # a file the Space can hold in plain git


def pack(state: dict, run: Path, folder: Path, stages: list[dict]) -> dict:
    """Write ``state`` (the newest checkpoint of ``run``) into ``folder``; ``stages``: the run's training
    record. Returns the metadata written."""
    tensors = {f"ema.{k}": v.contiguous() for k, v in state["ema"].items()}
    tensors.update({k: v.contiguous() for k, v in state["model"].items() if k.startswith("encoder.")})
    folder.mkdir(parents=True, exist_ok=True)
    save_file(tensors, folder / TENSORS)
    size = (folder / TENSORS).stat().st_size
    if size > LIMIT:
        (folder / TENSORS).unlink()
        raise TrainError(f"{run}: the warm start would be {size / 2 ** 20:.1f} MiB, over the 10 MiB a shipped "
                         f"file may have (a narrower --channels generator fits)")
    meta = {"run": str(run), "step": state["step"], "codes": state.get("codes", "encoder"),
            "train_config": state["train_config"], "generator_config": state["generator_config"],
            "stages": stages, "sha256": hashlib.sha256((folder / TENSORS).read_bytes()).hexdigest()}
    (folder / META).write_text(json.dumps(meta, indent=1) + "\n")
    return meta


def is_pack(folder: Path) -> bool:
    return (Path(folder) / META).is_file()


def load(folder: Path) -> dict:
    """A pack as a checkpoint state for ``--init-from`` (no optimizer, no RNG state)."""
    folder = Path(folder)
    meta = json.loads((folder / META).read_text())
    try:
        data = (folder / TENSORS).read_bytes()
    except FileNotFoundError:
        raise TrainError(f"{folder / TENSORS} is missing (its {META} is there)") from None
    if hashlib.sha256(data).hexdigest() != meta["sha256"]:
        raise TrainError(f"{folder / TENSORS} does not match the sha256 in {META}: damaged or replaced")
    tensors = load_bytes(data)
    ema = {k[len("ema."):]: v for k, v in tensors.items() if k.startswith("ema.")}
    model = {f"generator.{k}": v for k, v in ema.items()}
    model.update({k: v for k, v in tensors.items() if k.startswith("encoder.")})
    return {"step": meta["step"], "model": model, "ema": ema, "codes": meta["codes"],
            "train_config": meta["train_config"], "generator_config": meta["generator_config"]}


def load_source(source: Path) -> dict | None:
    """What ``--init-from`` / ``train.export`` read: the newest checkpoint of a run folder, or a pack."""
    return load(source) if is_pack(source) else checkpoint.load_latest(source)


@stage_main("python -m train.warm_start")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.warm_start", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", type=Path, help="a run folder (runs/...) with checkpoints")
    parser.add_argument("folder", type=Path, help="where to write warm-start.safetensors and warm-start.json")
    args = parser.parse_args(argv)
    from train.export import training_record  # export reads packs through this module
    state = checkpoint.load_latest(args.run)
    if state is None:
        raise TrainError(f"no usable checkpoint in {args.run}")
    meta = pack(state, args.run, args.folder, training_record(args.run, state)["stages"])
    size = (args.folder / TENSORS).stat().st_size / 2 ** 20
    print(f"{args.folder}: step {meta['step']} of {args.run} ({size:.1f} MiB); "
          f"continue with python -m train.train ... --init-from {args.folder}")


if __name__ == "__main__":
    raise SystemExit(main())

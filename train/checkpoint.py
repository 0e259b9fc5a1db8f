"""Training checkpoints: written atomically, the newest two kept, a damaged one skipped."""
from __future__ import annotations

import os
from pathlib import Path

import torch

KEEP = 2


def list_checkpoints(run: Path) -> list[Path]:
    """Checkpoints of a run, newest first."""
    return sorted(Path(run).glob("checkpoint-*.pt"), reverse=True)


def save(run: Path, step: int, state: dict) -> Path:
    path = Path(run) / f"checkpoint-{step:07d}.pt"
    tmp = path.with_suffix(".pt.tmp")
    torch.save(state, tmp)
    os.replace(tmp, path)
    for old in list_checkpoints(run)[KEEP:]:
        old.unlink()
    return path


def load_latest(run: Path) -> dict | None:
    """The newest checkpoint that loads; a half-written or damaged one falls back to the previous."""
    for path in list_checkpoints(run):
        try:
            return torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:  # torch raises several types for truncated zip / pickle data
            print(f"skipping damaged checkpoint {path.name}: {type(e).__name__}: {e}")
    return None

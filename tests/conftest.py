"""Shared fixtures: a tiny rendered set and a tiny trained generator, built once per session.

The fast tier runs everything against this tiny model on the CPU; tests marked ``slow``
use the shipped weights in weights/.
"""
from __future__ import annotations

import os

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
os.environ.setdefault("HF_HUB_OFFLINE", "1")

import avatar_studio  # noqa: E402

avatar_studio.tune_cpu()  # the test process is an entry point too: before torch starts

from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from avatar_studio import AvatarStudio  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SHIPPED = ROOT / "weights" / "avatar-studio"
TINY_SIZE = 32


@pytest.fixture(scope="session")
def tiny_data(tmp_path_factory) -> Path:
    """48 avatars at 32 px, rendered by the real renderer."""
    from train.render_dataset import render_dataset
    return render_dataset(tmp_path_factory.mktemp("data") / "tiny", n=48, size=TINY_SIZE, seed=3,
                          workers=1, progress=False)


@pytest.fixture(scope="session")
def tiny_run(tiny_data, tmp_path_factory) -> Path:
    import dataclasses
    from train.train import PRESETS, train
    cfg = dataclasses.replace(PRESETS["tiny"], steps=12)
    return train(tiny_data, tmp_path_factory.mktemp("runs") / "tiny", cfg, progress=False)


@pytest.fixture(scope="session")
def tiny_weights(tiny_run, tmp_path_factory) -> Path:
    from train.export import export
    return export(tiny_run, tmp_path_factory.mktemp("weights") / "tiny", version="1", name="tiny",
                  k=3, names=["hat colour"])


@pytest.fixture(scope="session")
def studio(tiny_weights) -> AvatarStudio:
    return AvatarStudio.from_pretrained(tiny_weights, device="cpu")


@pytest.fixture(scope="session")
def shipped_studio() -> AvatarStudio:
    if not (SHIPPED / "config.json").exists():
        pytest.fail(f"shipped weights missing at {SHIPPED}")
    return AvatarStudio.from_pretrained(SHIPPED, device="cpu")


@pytest.fixture(scope="session")
def two_styles(tiny_weights, tmp_path_factory) -> Path:
    """Two tiny style folders side by side: tiny (avataaars, the main folder) and big-smile beside it."""
    import dataclasses
    import shutil
    from train.export import export
    from train.render_dataset import render_dataset
    from train.train import PRESETS, train
    root = tmp_path_factory.mktemp("styles")
    shutil.copytree(tiny_weights, root / "tiny")
    data = render_dataset(root / "data" / "big-smile", n=24, size=TINY_SIZE, seed=5, workers=1, progress=False,
                          style="big-smile")
    run = train(data, root / "runs" / "big-smile", dataclasses.replace(PRESETS["tiny"], steps=6), progress=False)
    export(run, root / "big-smile", version="1", name="tiny-big-smile", k=2, names=[])
    shutil.rmtree(root / "data")
    shutil.rmtree(root / "runs")
    return root / "tiny"


@pytest.fixture(scope="session")
def styled_studio(two_styles) -> AvatarStudio:
    """A tiny studio drawing two styles: avataaars and big-smile (found beside the main folder)."""
    return AvatarStudio.from_pretrained(two_styles, device="cpu")

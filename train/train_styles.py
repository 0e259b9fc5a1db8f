"""Every further art style in one go: its stage list (train/styles/stages/<style>.json) run in order
(render, held-out render, critic, three training stages, export, evaluate), then its weights folder
copied to --collect. Made for a GPU session that has one short slot: run it, get weights back.

Example:
    # all styles with a stage list; weights/<style>/ (with evaluation.json) copied into $OUT/weights
    python -m train.train_styles --root /tmp/styles --collect $OUT/weights
    # a time box: each training stage stops by wall time (checkpointed), the rest runs as listed
    python -m train.train_styles --styles big-smile micah --minutes 3 --root /tmp/styles --collect $OUT/weights
    # the pipeline end to end at toy size (24 renders at 32 px, 3 steps): a check, not weights to ship
    python -m train.train_styles --tiny --root /tmp/tiny-styles --collect /tmp/tiny-weights

Relative paths of the stage lists (data/, runs/, weights/) are under --root. Stages whose output is
already there are not skipped: rerun with a fresh --root, or resume a stage by hand (--resume).
--tiny weights are never to be shipped: they are for testing the pipeline only (model card and
version say "tiny").
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

from train.errors import TrainError, stage_main
from train.stages import STYLE_STAGES, read_stages, style_stages, with_flag

ROOT = Path(__file__).resolve().parent.parent
# --tiny: module -> flag -> values (None drops the flag): the same pipeline at toy size
TINY = {
    "train.render_dataset": {"--n": ["24"], "--size": ["32"], "--workers": ["1"]},
    "train.classifier": {"--n-train": ["24"], "--epochs": ["1"], "--threads": ["1"]},
    "train.train": {"--preset": ["tiny"], "--steps": ["3"], "--channels": ["16", "8"], "--lr-warmup": ["1"],
                    "--threads": ["1"]},
    "train.export": {"--code-bank": ["8"], "--directions": ["2"], "--version": ["tiny"]},
    "train.evaluate": {"--n": ["12"], "--timing-runs": ["2"]},
}


def commands(style: str, tiny: bool = False, minutes: float = 0.0) -> list[list[str]]:
    """The style's stage commands (module, args...), at toy size with ``tiny``, training time-boxed with
    ``minutes``."""
    out = []
    for stage in read_stages(style_stages(style))["stages"]:
        command = list(stage["command"])
        module = command[0]
        for flag, values in (TINY.get(module, {}) if tiny else {}).items():
            if module != "train.export" or flag != "--code-bank" or "--code-bank" in command:
                command = with_flag(command, flag, values)
        if minutes and module == "train.train":
            command = with_flag(command, "--minutes", [str(minutes)])
        out.append(command)
    return out


def weights_folder(style: str) -> str:
    """The weights folder (relative to the root) the style's export stage writes."""
    export = next(st["command"] for st in read_stages(style_stages(style))["stages"] if st["command"][0] == "train.export")
    return export[2]


def run_style(style: str, root: Path, tiny: bool, minutes: float, log=print) -> Path:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    for command in commands(style, tiny, minutes):
        log(f"[{style}] python -m {' '.join(command)}", flush=True)
        if subprocess.run([sys.executable, "-m", *command], cwd=root, env=env).returncode != 0:
            raise TrainError(f"style {style}: python -m {command[0]} failed")
    return root / weights_folder(style)


@stage_main("python -m train.train_styles")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.train_styles", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    have = sorted(p.stem for p in STYLE_STAGES.glob("*.json"))
    parser.add_argument("--styles", nargs="+", default=have, help=f"styles to train (default: {' '.join(have)})")
    parser.add_argument("--root", type=Path, required=True, help="working folder for data/, runs/ and weights/")
    parser.add_argument("--collect", type=Path, required=True, help="copy each style's weights folder here")
    parser.add_argument("--minutes", type=float, default=0.0, help="wall-time cap of each training stage (0: none)")
    parser.add_argument("--tiny", action="store_true", help="toy sizes: tests the pipeline (weights not to ship)")
    args = parser.parse_args(argv)
    for style in args.styles:
        style_stages(style)  # every name checked before the first stage runs
    args.root.mkdir(parents=True, exist_ok=True)
    args.collect.mkdir(parents=True, exist_ok=True)
    for style in args.styles:
        folder = run_style(style, args.root.resolve(), args.tiny, args.minutes)
        target = args.collect / folder.name
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(folder, target)
        print(f"[{style}] weights in {target}", flush=True)


if __name__ == "__main__":
    sys.exit(main())

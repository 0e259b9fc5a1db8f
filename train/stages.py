"""The stage list that made the shipped weights (train/stages.json), as commands; and the lists that
are to make each further art style's weights (train/styles/stages/<style>.json, same format).

Example:
    python -m train.stages                      # print the commands, one a line
    python -m train.stages --run                # run them in order (days on a 2-core CPU)
    python -m train.stages --style big-smile    # the big-smile stages (render, critic, train, export, evaluate)

Every command is ``python -m <stage> ...``; the model card renders the same list.
"""
from __future__ import annotations

import argparse
import json
import shlex
import subprocess
import sys
from pathlib import Path

from train.errors import TrainError, stage_main

STAGES = Path(__file__).with_name("stages.json")
STYLE_STAGES = Path(__file__).with_name("styles") / "stages"      # <style>.json per further style


def style_stages(style: str) -> Path:
    path = STYLE_STAGES / f"{style}.json"
    if not path.is_file():
        have = ", ".join(sorted(p.stem for p in STYLE_STAGES.glob("*.json")))
        raise TrainError(f"no stage list for style {style!r}; the styles with one: {have}")
    return path


def stage_list_for(model_id: str) -> dict | None:
    """The checked-in stage list (train/stages.json or a style's) that makes ``model_id``, if any."""
    for path in [STAGES, *sorted(STYLE_STAGES.glob("*.json"))]:
        data = read_stages(path)
        if data["model"] == model_id:
            return data
    return None


def with_flag(command: list[str], flag: str, values: list[str] | None) -> list[str]:
    """The command with ``flag`` and its values replaced by ``values`` (appended if absent; None removes it)."""
    out = list(command)
    if flag in out:
        at = out.index(flag)
        end = next((i for i in range(at + 1, len(out)) if out[i].startswith("--")), len(out))
        del out[at:end]
    return out if values is None else out + [flag, *values]


def read_stages(path: Path = STAGES) -> dict:
    """stages.json: {"model": "name@version", "about": ..., "stages": [{"name", "command": [module, args...]}]};
    every train stage warm-starts only from a run an earlier stage makes."""
    try:
        data = json.loads(Path(path).read_text())
        stages = data["stages"]
        made: set[str] = set()
        for st in stages:
            module, args = st["command"][0], st["command"][1:]
            if not module.startswith("train.") or not all(isinstance(a, str) for a in args):
                raise ValueError(f"stage {st['name']!r}: a command is a train.<stage> module and string arguments")
            if module == "train.train":
                source = args[args.index("--init-from") + 1] if "--init-from" in args else None
                if source is not None and source not in made:
                    raise ValueError(f"stage {st['name']!r} warm-starts from {source}, which no earlier stage makes")
                made.add(args[args.index("--out") + 1])
    except (OSError, ValueError, KeyError, TypeError, IndexError) as e:
        raise TrainError(f"{path} is not a valid stage list ({e})") from None
    return data


def command_lines(data: dict) -> list[str]:
    return [shlex.join(["python", "-m", *st["command"]]) for st in data["stages"]]


@stage_main("python -m train.stages")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.stages", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--stages", type=Path, default=STAGES, help="stage list (default: train/stages.json)")
    parser.add_argument("--style", default=None, help="the stage list of this art style (train/styles/stages/)")
    parser.add_argument("--run", action="store_true", help="run the commands in order, stopping at a failure")
    args = parser.parse_args(argv)
    data = read_stages(style_stages(args.style) if args.style else args.stages)
    for st, line in zip(data["stages"], command_lines(data)):
        print(line, flush=True)
        if args.run and subprocess.run([sys.executable, "-m", *st["command"]]).returncode != 0:
            raise TrainError(f"stage {st['name']!r} failed")


if __name__ == "__main__":
    sys.exit(main())

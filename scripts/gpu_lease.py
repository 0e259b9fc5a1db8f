"""Train the unfinished styles on one borrowed GPU inside a fixed time, and bring back what they made.

A lent GPU machine (the device tool) runs one command of at most 10 minutes, starts bare and is
given back afterwards, so this does everything in one go, each step time-boxed, and leaves the
results as a few small files (at most 16 MiB each) in ``--out``:

    python -m scripts.gpu_lease --out $OUT --seconds 520

1. render each style's training folder (the stage list's render stage: the same seed, the same images);
2. train each style's judge (``train.classifier``, on CPU cores, beside the trainings);
3. on the GPU, each style's plain and detail stages (the stage list's flags), time-boxed with
   ``--minutes``; a style with a warm-start pack in train/styles/progress skips to its detail stage
   from that pack; a stage that fails at once on the GPU is run again on the CPU cores;
4. export the last stage's run as weights (code bank from the training renders) and pack its newest
   checkpoint (``train.warm_start``: a checkpoint is 34 MB, a pack 9 MB) for the next session;
5. write ``STYLE-weights.tar``, ``STYLE-pack.tar``, ``STYLE-judge.tar`` and ``logs.tar``.

Evaluation (``train.evaluate`` at n=2000) is left to the machine the files come back to: it needs
no GPU, and its figures are the ones quoted. ``--quick`` shrinks everything for a CPU rehearsal.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path

from train.stages import read_stages, style_stages, with_flag

ROOT = Path(__file__).resolve().parent.parent
PROGRESS = ROOT / "train" / "styles" / "progress"
EXPORT_RESERVE = 75          # seconds kept for export, packing and tarring after the trainings stop
LOAD_SECONDS = 25            # a training's start: 40,000 PNGs read before its clock (--minutes) starts


def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def stage(style: str, name: str) -> list[str]:
    """The stage's command (module and flags), as the style's stage list gives it."""
    for s in read_stages(style_stages(style))["stages"]:
        if s["name"] == name:
            return list(s["command"])
    raise KeyError(f"{style} has no stage {name!r}")


def start(cmd: list[str], logfile: Path, env: dict | None = None) -> subprocess.Popen:
    logfile.parent.mkdir(parents=True, exist_ok=True)
    log(" ".join(cmd) + f"  > {logfile}")
    return subprocess.Popen([sys.executable, "-m", *cmd], cwd=ROOT, stdout=open(logfile, "w"),
                            stderr=subprocess.STDOUT, env={**os.environ, "OMP_WAIT_POLICY": "PASSIVE", **(env or {})})


def run_stage(cmd: list[str], logfile: Path, minutes: float, threads: int, fallback_threads: int) -> int:
    """One training stage with a time box; run again on the CPU if it fails in its first 90 s on the GPU."""
    cmd = with_flag(with_flag(cmd, "--minutes", [f"{minutes:.2f}"]), "--threads", [str(threads)])
    cmd = with_flag(cmd, "--log-every", ["50"])
    began = time.time()
    rc = start(cmd, logfile).wait()
    if rc and time.time() - began < 90 and os.environ.get("CUDA_VISIBLE_DEVICES") != "":
        log(f"{logfile.name} failed at once (rc {rc}); again on the CPU")
        out = cmd[cmd.index("--out") + 1]
        cmd = with_flag(with_flag(cmd, "--out", [out + "-cpu"]), "--threads", [str(fallback_threads)])
        left = minutes - (time.time() - began) / 60
        cmd = with_flag(cmd, "--minutes", [f"{max(0.5, left):.2f}"])
        rc = start(cmd, logfile.with_name(logfile.stem + "-cpu.log"), {"CUDA_VISIBLE_DEVICES": ""}).wait()
    return rc


def train_style(style: str, train_end: float, quick: bool, threads: int, batch: int, logs: Path) -> Path | None:
    """The style's remaining stages until ``train_end``; returns the run to export."""
    plain, detail = (with_flag(stage(style, name), "--batch", [str(batch)]) for name in ("plain", "detail"))
    pack = PROGRESS / style
    if quick:
        plain, detail = (with_flag(c, "--steps", ["60"]) for c in (plain, detail))
    if pack.is_dir():  # the plain stage ran (most of) its steps in an earlier session: on to the detail stage
        detail = with_flag(detail, "--init-from", [str(pack.relative_to(ROOT))])
        minutes = (train_end - time.time() - LOAD_SECONDS) / 60
        rc = run_stage(detail, logs / f"{style}-detail.log", minutes, threads, 4)
        return _run_of(detail, rc)
    window = train_end - time.time() - 2 * LOAD_SECONDS
    rc = run_stage(plain, logs / f"{style}-plain.log", 0.55 * window / 60, threads, 4)
    plain_run = _run_of(plain, rc)
    if plain_run is None:
        return None
    detail = with_flag(detail, "--init-from", [str(plain_run.relative_to(ROOT))])
    minutes = (train_end - time.time() - LOAD_SECONDS) / 60
    if minutes < 0.3:
        return plain_run
    rc = run_stage(detail, logs / f"{style}-detail.log", minutes, threads, 4)
    return _run_of(detail, rc) or plain_run


def _run_of(cmd: list[str], rc: int) -> Path | None:
    """The run folder a stage wrote checkpoints to (its CPU rerun's when that one ran), else None."""
    out = cmd[cmd.index("--out") + 1]
    for folder in (ROOT / (out + "-cpu"), ROOT / out):
        if list(folder.glob("checkpoint-*.pt")):
            if rc:
                log(f"{folder} stopped with rc {rc}; its newest checkpoint is used")
            return folder
    return None


def tar(path: Path, members: list[Path]) -> None:
    with tarfile.open(path, "w") as t:
        for m in members:
            if m.exists():
                t.add(m, arcname=str(m.relative_to(ROOT)))
    log(f"{path.name}: {path.stat().st_size / 2 ** 20:.1f} MiB")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.gpu_lease", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, required=True, help="folder for the files to bring back")
    parser.add_argument("--styles", nargs="+", default=["adventurer", "micah"])
    parser.add_argument("--seconds", type=float, default=520, help="everything done within this many seconds")
    parser.add_argument("--batch", type=int, default=64,
                        help="training batch (the stage lists' cpu preset: 32; a GPU step costs about the same at 64)")
    parser.add_argument("--quick", action="store_true", help="a CPU rehearsal: few renders, few steps")
    args = parser.parse_args(argv)
    t0 = time.time()
    deadline = t0 + args.seconds
    logs = ROOT / "runs" / "lease-logs"
    logs.mkdir(parents=True, exist_ok=True)
    cores = os.cpu_count() or 2
    n = 600 if args.quick else 40000
    log(f"{cores} cores; styles {args.styles}; deadline in {args.seconds:.0f} s")
    if shutil.which("nvidia-smi"):
        subprocess.run(["nvidia-smi"], stdout=open(logs / "nvidia-smi.txt", "w"), stderr=subprocess.STDOUT)

    # 1. renders, all styles at once
    renders = []
    for style in args.styles:
        cmd = with_flag(stage(style, "render"), "--n", [str(n)])
        renders.append(start(with_flag(cmd, "--workers", [str(max(1, cores // len(args.styles)))]),
                             logs / f"{style}-render.log"))
    if any(p.wait() for p in renders):
        raise SystemExit("a render failed: see runs/lease-logs")
    log("renders done")

    # 2. judges on CPU cores, beside the trainings (2 threads each for the GPU trainings' feeding)
    judge_threads = max(1, (cores - 2 * len(args.styles)) // len(args.styles))
    judges = {}
    for style in args.styles:
        cmd = ["train.classifier", "--data", f"data/{style}/train128", "--out", f"runs/{style}/judge",
               "--threads", str(judge_threads)]
        judges[style] = start(cmd + (["--n-train", "500", "--epochs", "1"] if args.quick else []),
                              logs / f"{style}-judge.log")

    # 3. trainings, one thread per style (each drives its own GPU process)
    train_end = deadline - EXPORT_RESERVE
    runs: dict[str, Path | None] = {}
    workers = [threading.Thread(target=lambda s=s: runs.__setitem__(s, train_style(s, train_end, args.quick, 2, args.batch, logs)))
               for s in args.styles]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    log(f"trainings done: {runs}")
    for style, p in judges.items():
        try:
            p.wait(timeout=max(1, train_end + 20 - time.time()))
        except subprocess.TimeoutExpired:
            p.kill()
            log(f"{style} judge unfinished: killed (train it where the files go)")

    # 4-5. export, pack, tar
    args.out.mkdir(parents=True, exist_ok=True)
    for style, run in runs.items():
        if run is None:
            log(f"{style}: no checkpoint to export")
            continue
        weights, packed = ROOT / "runs" / "lease" / style / "weights", ROOT / "runs" / "lease" / style / "pack"
        exp = stage(style, "export")
        exp[1], exp[2] = str(run), str(weights)
        if args.quick:
            exp = with_flag(exp, "--code-bank", ["64"])
        if subprocess.run([sys.executable, "-m", *exp], cwd=ROOT).returncode == 0:
            tar(args.out / f"{style}-weights.tar", [weights])
        if subprocess.run([sys.executable, "-m", "train.warm_start", str(run), str(packed)], cwd=ROOT).returncode == 0:
            tar(args.out / f"{style}-pack.tar", [packed])
        judge = ROOT / "runs" / style / "judge"
        if (judge / "config.json").exists() or list(judge.glob("*.safetensors")):
            tar(args.out / f"{style}-judge.tar", [judge])
    keep = [logs]
    for style in args.styles:
        for run in sorted((ROOT / "runs" / style).glob("*")):
            keep += [run / "metrics.jsonl", run / "train_config.json", run / "samples"]
    tar(args.out / "logs.tar", keep)
    log(f"done in {time.time() - t0:.0f} s")
    print(json.dumps({s: str(r) for s, r in runs.items()}))


if __name__ == "__main__":
    main()

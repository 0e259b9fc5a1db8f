"""Training (train/train.py, train/checkpoint.py, train/export.py): resume, checkpoints, CLIs, DDP."""
from __future__ import annotations

import dataclasses
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from PIL import Image

import train.train as training
from avatar_studio import AvatarStudio
from avatar_studio.generator import Architecture
from train import checkpoint
from train.errors import TrainError
from train.train import PRESETS, TrainConfig, batch_ids, train

ROOT = Path(__file__).resolve().parent.parent
STEPS = 8
CFG = dataclasses.replace(PRESETS["tiny"], steps=STEPS, log_every=1, checkpoint_every=STEPS // 2,
                          sample_every=STEPS // 2)
LOSSES = ("step", "kimg", "loss", "recon", "balance", "lr")  # everything but the clock
ARCH = {f.name for f in dataclasses.fields(Architecture)}


def with_(cfg: TrainConfig, **changes) -> TrainConfig:
    """cfg with changes; architecture fields go into cfg.arch."""
    arch = dataclasses.replace(cfg.arch, **{k: v for k, v in changes.items() if k in ARCH})
    return dataclasses.replace(cfg, **{k: v for k, v in changes.items() if k not in ARCH}, arch=arch)


def metrics(run: Path) -> list[dict]:
    return [{k: row[k] for k in LOSSES} for row in map(json.loads, (run / "metrics.jsonl").read_text().splitlines())]


def final_state(run: Path) -> dict:
    return torch.load(run / f"checkpoint-{STEPS:07d}.pt", map_location="cpu", weights_only=True)


def assert_same_tensors(a: dict, b: dict) -> None:
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key


@pytest.fixture(scope="module")
def full_run(tiny_data, tmp_path_factory) -> Path:
    """STEPS steps without a stop, a checkpoint half-way."""
    return train(tiny_data, tmp_path_factory.mktemp("full") / "run", CFG, progress=False)


def test_metrics_samples_and_configs_are_written(full_run):
    rows = metrics(full_run)
    assert [r["step"] for r in rows] == list(range(1, STEPS + 1))
    assert all(r["loss"] > 0 and r["lr"] > 0 for r in rows)
    samples = sorted(p.name for p in (full_run / "samples").glob("*.png"))
    assert samples == ["step-0000004.png", "step-0000008.png"]
    with Image.open(full_run / "samples" / samples[-1]) as grid:
        assert grid.size == (8 * 32, 4 * 32)  # 8 columns; real and generated rows
    assert json.loads((full_run / "train_config.json").read_text()) == dataclasses.asdict(CFG)
    assert json.loads((full_run / "generator_config.json").read_text())["resolution"] == 32
    assert sorted(p.name for p in full_run.glob("checkpoint-*")) == ["checkpoint-0000004.pt", "checkpoint-0000008.pt"]


def test_batches_depend_only_on_the_step():
    assert torch.equal(batch_ids(48, 8, 5, seed=0), batch_ids(48, 8, 5, seed=0))
    epoch = torch.cat([batch_ids(48, 8, s, seed=0) for s in range(6)])
    assert sorted(epoch.tolist()) == list(range(48)), "one epoch sees every image once"
    ranks = torch.cat([batch_ids(48, 8, 1, seed=0, rank=r, world=2) for r in range(2)])
    assert len(set(ranks.tolist())) == 16, "ranks see different images"


def test_killed_and_resumed_run_matches_the_uninterrupted_one(full_run, tiny_data, tmp_path, monkeypatch):
    run = tmp_path / "run"

    def killed_at_step_6(n, batch, step, seed, rank=0, world=1):
        if step == 6:  # two steps after the half-way checkpoint; those steps are lost
            raise KeyboardInterrupt
        return batch_ids(n, batch, step, seed, rank, world)

    monkeypatch.setattr(training, "batch_ids", killed_at_step_6)
    with pytest.raises(KeyboardInterrupt):
        train(tiny_data, run, CFG, progress=False)
    monkeypatch.setattr(training, "batch_ids", batch_ids)
    assert [p.name for p in checkpoint.list_checkpoints(run)] == ["checkpoint-0000004.pt"]
    assert [r["step"] for r in metrics(run)] == [1, 2, 3, 4, 5, 6]
    with open(run / "metrics.jsonl", "a") as f:
        f.write('{"step": 7, "lo')  # the kill also cut a line in half

    train(tiny_data, run, CFG, resume=True, progress=False)
    assert metrics(run) == metrics(full_run)
    resumed, uninterrupted = final_state(run), final_state(full_run)
    assert_same_tensors(resumed["ema"], uninterrupted["ema"])
    assert_same_tensors(resumed["model"], uninterrupted["model"])
    assert torch.equal(resumed["rng"], uninterrupted["rng"])
    last = "samples/step-0000008.png"
    assert (run / last).read_bytes() == (full_run / last).read_bytes()


def test_half_written_newest_checkpoint_is_skipped(full_run, tiny_data, tmp_path, capsys):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    newest = run / f"checkpoint-{STEPS:07d}.pt"
    newest.write_bytes(newest.read_bytes()[: newest.stat().st_size // 2])
    (run / "checkpoint-0000009.pt.tmp").write_bytes(b"an interrupted write")  # never a candidate
    state = checkpoint.load_latest(run)
    assert state["step"] == STEPS // 2
    assert "skipping damaged checkpoint checkpoint-0000008.pt" in capsys.readouterr().out

    train(tiny_data, run, CFG, resume=True, progress=False)  # redoes steps 5..8 from the good one
    assert_same_tensors(final_state(run)["ema"], final_state(full_run)["ema"])
    assert metrics(run) == metrics(full_run)


def test_resume_without_a_usable_checkpoint_is_refused(tiny_data, tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "checkpoint-0000004.pt").write_bytes(b"")
    with pytest.raises(TrainError, match="--resume: no usable checkpoint in"):
        train(tiny_data, run, CFG, resume=True, progress=False)


@pytest.mark.parametrize("change", [{"lr": 1e-3}, {"steps": STEPS + 2}, {"channels": [16, 16, 8]}])
def test_resume_with_other_settings_is_refused(full_run, tiny_data, tmp_path, change):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    with pytest.raises(TrainError, match="--resume: .* was trained with other settings"):
        train(tiny_data, run, with_(CFG, **change), resume=True, progress=False)
    assert metrics(run) == metrics(full_run)


def test_a_new_run_will_not_overwrite_checkpoints(full_run, tiny_data, tmp_path):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    with pytest.raises(TrainError, match="already holds checkpoints: pass --resume"):
        train(tiny_data, run, CFG, progress=False)


# ---- style codes: recorded unlabelled choices, or an encoder ---------------------------------
def test_recorded_unlabelled_choices_are_the_style_codes(full_run, tiny_data):
    from train.dataset import AvatarSet
    from train.export import read_code_bank
    state = final_state(full_run)
    assert state["codes"] == "data"
    assert not [k for k in state["model"] if k.startswith("encoder.")], "no encoder is trained"
    pick = torch.randperm(48, generator=torch.Generator().manual_seed(0))[:16]
    assert torch.equal(read_code_bank(state, tiny_data, 16), AvatarSet(tiny_data, size=32).codes[pick])


def test_generator_draws_the_recorded_choice_it_is_given(full_run):
    from avatar_studio.generator import Generator, GeneratorConfig
    state = final_state(full_run)
    generator = Generator(GeneratorConfig(**state["generator_config"]))
    generator.load_state_dict(state["ema"])
    index, rgb = generator.config.vocab.encode([{"hair": "hat", "outfit": "graphicShirt", "accessories": "round",
                                                  "eyes": "happy", "eyebrows": "default", "mouth": "smile",
                                                  "facial_hair": "none", "hair_color": "#a55728",
                                                  "outfit_color": "#3c4f5c", "skin_color": "#ffdbb4"}] * 2)
    known = torch.tensor([[0, 0, 0], [14, 14, 9]])
    fake, logits, _, _ = training.AutoEncoder(generator, None)(None, index, rgb, 1.0, known)
    assert logits is None and not torch.equal(fake[0], fake[1]), "another hat colour / graphic, another image"


def test_encoder_codes_when_asked_and_a_warm_start_drops_the_encoder(tiny_data, tmp_path):
    run = train(tiny_data, tmp_path / "encoder", dataclasses.replace(CFG, steps=2, codes="encoder"), progress=False)
    state = checkpoint.load_latest(run)
    assert state["codes"] == "encoder" and [k for k in state["model"] if k.startswith("encoder.")]
    warm = train(tiny_data, tmp_path / "warm", dataclasses.replace(CFG, steps=2, init_from=str(run)), progress=False)
    assert checkpoint.load_latest(warm)["codes"] == "data"


@pytest.fixture
def unrecorded(tiny_data, tmp_path) -> Path:
    """The tiny set without the unlabelled choices in its rows."""
    folder = tmp_path / "plain"
    shutil.copytree(tiny_data, folder)
    drop = ("hat_color", "accessories_color", "clothes_graphic")
    rows = [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]
    (folder / "metadata.jsonl").write_text("".join(json.dumps({k: v for k, v in r.items() if k not in drop}) + "\n"
                                                   for r in rows))
    return folder


def test_auto_codes_fall_back_to_the_encoder_without_recorded_choices(unrecorded, tmp_path):
    run = train(unrecorded, tmp_path / "run", dataclasses.replace(CFG, steps=2), progress=False)
    assert checkpoint.load_latest(run)["codes"] == "encoder"


@pytest.mark.parametrize("changes, message", [
    ({"codes": "bogus"}, "--codes 'bogus': choose one of auto, data, encoder"),
    ({"codes": "data", "n_codes": 2}, "the data records 3 unlabelled choices .* set --n-codes 3 --code-classes 15"),
    ({"code_classes": 8}, "the data records 3 unlabelled choices"),
], ids=["unknown source", "too few codes", "too few classes"])
def test_code_settings_that_cannot_work_are_refused(tiny_data, tmp_path, changes, message):
    with pytest.raises(TrainError, match=message):
        train(tiny_data, tmp_path / "run", with_(CFG, **changes), progress=False)


def test_codes_from_data_need_recorded_choices(unrecorded, tmp_path):
    with pytest.raises(TrainError, match="--codes data: the rows don't record unlabelled choices"):
        train(unrecorded, tmp_path / "run", dataclasses.replace(CFG, codes="data"), progress=False)


# ---- warm starts that grow the palette ------------------------------------------------------
def test_a_grown_palette_paints_what_the_warm_start_painted(full_run):
    from avatar_studio.generator import Generator, GeneratorConfig
    state = final_state(full_run)
    old = state["generator_config"]
    before = Generator(GeneratorConfig(**old))
    before.load_state_dict(state["ema"])
    grown_cfg = GeneratorConfig(**{**old, "free_colors": old["free_colors"] + 2, "const_colors": 6})
    after = Generator(grown_cfg)
    grown = training.grow_palette(state["ema"], old, grown_cfg)
    after.load_state_dict(grown, strict=True)
    new_free = grown["free_color.weight"][-6:].view(2, 3, -1)
    assert not torch.equal(new_free[0], new_free[1]), "new colours must not start as twins"
    z = torch.randn(4, grown_cfg.z_dim, generator=torch.Generator().manual_seed(0))
    vocab = grown_cfg.vocab
    index, rgb = vocab.encode([vocab.resolve({}, z_i) for z_i in z])
    with torch.no_grad():
        assert (before(z, index, rgb) - after(z, index, rgb)).abs().max() < 0.05
    assert after.n_mix == before.n_mix + 6


def test_warm_start_with_a_grown_palette_trains_and_a_shrunk_one_is_refused(full_run, tiny_data, tmp_path):
    grown = with_(CFG, steps=2, init_from=str(full_run), free_colors=6, const_colors=4)
    run = train(tiny_data, tmp_path / "grown", grown, progress=False)
    assert checkpoint.load_latest(run)["generator_config"]["const_colors"] == 4
    shrunk = with_(CFG, steps=2, init_from=str(run), const_colors=2)
    with pytest.raises(TrainError, match="the palette can grow, not shrink"):
        train(tiny_data, tmp_path / "shrunk", shrunk, progress=False)


# ---- runs from before per-class part templates ---------------------------------------------
def old_form(state: dict, cfg, prefix: str = "") -> dict:
    """The state with its part templates in the form before @4: a linear map of the raw embeddings."""
    g = torch.Generator().manual_seed(0)
    state = dict(state)
    table, _ = state.pop(prefix + "templates"), state.pop(prefix + "template_bias")
    width = cfg.embed_dim * len(cfg.vocab.categorical)
    state[prefix + "templates.weight"] = torch.randn(table.shape[1], width, generator=g) * 0.1
    state[prefix + "templates.bias"] = torch.randn(table.shape[1], generator=g) * 0.1
    return state


def test_folded_templates_paint_what_the_linear_form_painted(full_run):
    from avatar_studio.generator import Generator, GeneratorConfig
    from train.legacy import fold_templates
    state = final_state(full_run)
    cfg = GeneratorConfig(**state["generator_config"])
    old = old_form(state["ema"], cfg)
    model = Generator(cfg)
    model.load_state_dict(fold_templates(old, cfg), strict=True)
    z = torch.randn(5, cfg.z_dim, generator=torch.Generator().manual_seed(1))
    index, rgb = cfg.vocab.encode([cfg.vocab.resolve({}, z_i) for z_i in z])
    with torch.no_grad():
        w = model.mapping(z, index, rgb)
        raw = torch.cat([old[f"embeddings.{name}.weight"][index[:, i]] for i, name in enumerate(cfg.vocab.categorical)], 1)
        want = raw @ old["templates.weight"].T + old["templates.bias"]  # the linear form
        got = model.part_templates(w[:, cfg.w_dim:cfg.w_dim + cfg.class_width]).flatten(1)
    assert torch.allclose(got, want, atol=1e-5)
    assert fold_templates(fold_templates(old, cfg), cfg).keys() == model.state_dict().keys(), "folding twice is a no-op"


def test_a_run_from_before_per_class_templates_warm_starts_but_does_not_resume(full_run, tiny_data, tmp_path):
    from avatar_studio.generator import GeneratorConfig
    state = final_state(full_run)
    cfg = GeneratorConfig(**state["generator_config"])
    old_run = tmp_path / "old"
    old_run.mkdir()
    checkpoint.save(old_run, STEPS, {**state, "model": old_form(state["model"], cfg, "generator."),
                                     "ema": old_form(state["ema"], cfg)})
    with pytest.raises(TrainError, match="--init-from " + str(old_run)):
        train(tiny_data, old_run, CFG, resume=True, progress=False)
    warm = train(tiny_data, tmp_path / "warm", dataclasses.replace(CFG, steps=2, init_from=str(old_run)),
                 progress=False)
    assert "templates" in checkpoint.load_latest(warm)["ema"]


# ---- the perceptual critic -----------------------------------------------------------------
@pytest.fixture(scope="module")
def tiny_critic(tiny_data, tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("critic")
    training.classifier.obtain(folder, tiny_data, training.classifier.FitConfig(epochs=2, batch=16, seed=1),
                              log=lambda *_: None)
    return folder


def test_a_critic_run_logs_its_terms_and_resumes(tiny_critic, tiny_data, tmp_path):
    cfg = dataclasses.replace(CFG, steps=2, checkpoint_every=1, critic=str(tiny_critic), perceptual=0.5, classify=0.1)
    run = train(tiny_data, tmp_path / "critic", cfg, progress=False)
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert all(r["feature"] > 0 and r["label_ce"] > 0 for r in rows)
    assert math.isclose(rows[-1]["loss"], rows[-1]["recon"] + cfg.balance * rows[-1]["balance"]
                        + cfg.palette * rows[-1]["palette"] + 0.5 * rows[-1]["feature"] + 0.1 * rows[-1]["label_ce"],
                        rel_tol=1e-5)
    with pytest.raises(TrainError, match="other settings"):
        train(tiny_data, run, dataclasses.replace(cfg, steps=3, perceptual=0.2), resume=True, progress=False)


@pytest.mark.parametrize("changes, message", [
    ({"perceptual": 0.5}, "need --critic DIR"),
    ({"classify": 0.1, "critic": "no/such/folder"}, "--critic: no classifier at"),
    ({"critic": "runs/critic"}, "set --perceptual and/or --classify above 0"),
])
def test_critic_settings_that_cannot_work_are_refused(tiny_data, tmp_path, changes, message):
    with pytest.raises(TrainError, match=message):
        train(tiny_data, tmp_path / "run", dataclasses.replace(CFG, steps=1, **changes), progress=False)


def test_a_critic_for_other_images_is_refused(tiny_critic, tiny_data, tmp_path, monkeypatch):
    real_load = training.classifier.load

    def load_as_64(folder):
        model, meta = real_load(folder)
        model.config.size = 64
        return model, meta
    monkeypatch.setattr(training.classifier, "load", load_as_64)
    with pytest.raises(TrainError, match="reads 64 px images, the data is 32 px"):
        train(tiny_data, tmp_path / "run", dataclasses.replace(CFG, steps=1, critic=str(tiny_critic), classify=0.1),
              progress=False)


# ---- command lines -------------------------------------------------------------------------
@pytest.mark.server
@pytest.mark.parametrize("module, needles", [
    ("train.train", ["python -m train.train --data", "--preset", "{cpu,gpu,tiny}", "--resume", "--log-every",
                     "--w-dim", "--init-from"]),
    ("train.export", ["python -m train.export runs/", "--directions", "--direction-names"]),
    ("train.warm_start", ["python -m train.warm_start runs/", "--init-from train/styles/progress/"]),
])
def test_cli_help(module, needles):
    out = subprocess.run([sys.executable, "-m", module, "--help"], cwd=ROOT, capture_output=True, text=True,
                         timeout=120)
    assert out.returncode == 0, out.stderr
    for needle in needles:
        assert needle in out.stdout


def test_cli_train_overrides_then_export(tiny_data, tmp_path, capsys):
    run, weights = tmp_path / "runs" / "cli", tmp_path / "weights" / "cli"
    assert training.main(["--data", str(tiny_data), "--out", str(run), "--preset", "tiny", "--steps", "3",
                          "--log-every", "1", "--channels", "8", "8", "8", "--embed_dim", "4"]) == 0
    assert "--embed_dim is spelled with dashes now (--embed-dim)" in capsys.readouterr().err, "old spelling: a note"
    saved = json.loads((run / "train_config.json").read_text())
    assert saved == dataclasses.asdict(with_(PRESETS["tiny"], steps=3, log_every=1, channels=[8, 8, 8], embed_dim=4))
    assert saved["arch"]["channels"] == [8, 8, 8], "architecture settings nested, typed once"
    assert [r["step"] for r in metrics(run)] == [1, 2, 3]

    from train.export import main as export_main
    export_main([str(run), str(weights), "--directions", "2", "--direction-names", "hat colour"])
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    assert studio.sliders == ["hat colour", "style 2"] and studio.model_id == "cli@1"
    assert studio.design({}, 0).size == (32, 32)


def test_a_warm_start_pack_carries_a_run_across_machines(tiny_data, tmp_path, capsys):
    """A run packed at the end of a session (no runs/ on the next machine): a new run starts from the pack
    as from the run itself, an export from the pack equals the run's, and the training record keeps the
    stages before the pack."""
    from train import export, warm_start
    run = train(tiny_data, tmp_path / "runs" / "a", dataclasses.replace(CFG, steps=2, codes="encoder"),
                progress=False)
    pack = tmp_path / "progress" / "a"
    assert warm_start.main([str(run), str(pack)]) == 0
    assert f"step 2 of {run}" in capsys.readouterr().out
    assert sorted(p.name for p in pack.iterdir()) == [warm_start.META, warm_start.TENSORS]
    state, packed = checkpoint.load_latest(run), warm_start.load(pack)
    assert_same_tensors(packed["ema"], state["ema"])
    assert_same_tensors({k: v for k, v in packed["model"].items() if k.startswith("encoder.")},
                        {k: v for k, v in state["model"].items() if k.startswith("encoder.")})
    assert "optimizer" not in packed, "a warm start, never a resume"

    exported = export.export(run, tmp_path / "weights" / "run", "1", "a", 2, [])
    for ckpt in checkpoint.list_checkpoints(run):  # the next machine has the run's settings at most, no checkpoint
        ckpt.unlink()
    still = dataclasses.replace(CFG, steps=1, lr=0.0, codes="encoder", init_from=str(pack))
    from_pack = train(tiny_data, tmp_path / "runs" / "b", still, progress=False)
    started = checkpoint.load_latest(from_pack)  # lr 0: the weights it started from, exactly
    assert_same_tensors(started["ema"], state["ema"])
    assert_same_tensors(started["model"], {**{f"generator.{k}": v for k, v in state["ema"].items()},
                                           **{k: v for k, v in state["model"].items() if k.startswith("encoder.")}})
    record = export.training_record(from_pack, checkpoint.load_latest(from_pack))
    assert [st["run"] for st in record["stages"]] == [str(run), str(from_pack)]

    weights = export.export(pack, tmp_path / "weights" / "pack", "1", "a", 2, [])
    assert json.loads((weights / "training.json").read_text())["step"] == 2
    models = sorted(p.name for p in exported.glob("model*.safetensors"))
    assert models and models == sorted(p.name for p in weights.glob("model*.safetensors"))
    assert all((exported / m).read_bytes() == (weights / m).read_bytes() for m in models)
    assert AvatarStudio.from_pretrained(weights, device="cpu").design({}, 0).size == (32, 32)


def test_a_damaged_warm_start_pack_is_refused(full_run, tiny_data, tmp_path, capsys):
    from train import warm_start
    pack = tmp_path / "pack"
    warm_start.pack(checkpoint.load_latest(full_run), full_run, pack, [])
    data = bytearray((pack / warm_start.TENSORS).read_bytes())
    data[-1] ^= 1
    (pack / warm_start.TENSORS).write_bytes(bytes(data))
    with pytest.raises(TrainError, match="does not match the sha256"):
        warm_start.load_source(pack)
    assert training.main(["--data", str(tiny_data), "--out", str(tmp_path / "run"), "--preset", "tiny",
                          "--init-from", str(pack)]) == 2
    assert "warm-start.safetensors does not match the sha256 in warm-start.json" in capsys.readouterr().err


def test_size_trains_at_another_side_than_the_folder(tiny_data, tmp_path):
    run = train(tiny_data, tmp_path / "run", with_(PRESETS["tiny"], steps=1, size=16, channels=[8, 8]),
                progress=False)
    config = json.loads((run / "generator_config.json").read_text())
    assert (config["resolution"], config["base_res"]) == (16, 4)


def test_own_art_stages_train_both_generators_with_the_same_budget():
    """train/own_art.json: the true- and pseudo-label generators (every pseudo-labelled folder's)
    differ only in --data and --out."""
    import argparse
    from train.stages import read_stages
    from train.train import add_dataclass_arguments, config_from_args
    data = read_stages(ROOT / "train" / "own_art.json")
    trains = {st["name"]: st["command"][1:] for st in data["stages"] if st["command"][0] == "train.train"}
    assert {"train-true", "train-pseudo"} <= set(trains)
    configs = []
    for args in trains.values():
        parser = argparse.ArgumentParser()
        for flag in ("--data", "--out", "--preset"):
            parser.add_argument(flag)
        add_dataclass_arguments(parser)
        parsed = parser.parse_args(args)
        configs.append((parsed.preset, config_from_args(parsed, args)))
    assert all(c == configs[0] for c in configs)
    written = {st["command"][st["command"].index("--write") + 1] for st in data["stages"] if "--write" in st["command"]}
    assert {args[args.index("--data") + 1] for name, args in trains.items() if name != "train-true"} == written


def test_every_preset_is_a_valid_config():
    assert set(PRESETS) >= {"cpu", "gpu", "tiny"}
    for cfg in PRESETS.values():
        assert isinstance(cfg, TrainConfig)
        json.dumps(dataclasses.asdict(cfg))  # JSON-native fields only


# ---- DDP -----------------------------------------------------------------------------------
@pytest.mark.slow
def test_torchrun_two_processes_on_cpu(tiny_data, tmp_path):
    torchrun = shutil.which("torchrun") or str(Path(sys.executable).with_name("torchrun"))
    if not Path(torchrun).exists():
        pytest.skip("torchrun is not installed")
    run, weights = tmp_path / "runs" / "ddp", tmp_path / "weights" / "ddp"
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "OMP_NUM_THREADS": "1", "CUDA_VISIBLE_DEVICES": ""}
    out = subprocess.run([torchrun, "--standalone", "--nproc_per_node", "2", "-m", "train.train",
                          "--data", str(tiny_data), "--out", str(run), "--preset", "tiny", "--steps", "4",
                          "--log-every", "1", "--checkpoint-every", "2"],
                         cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    rows = metrics(run)
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    assert rows[-1]["kimg"] == round(4 * 8 * 2 / 1000, 3), "two processes: twice the images per step"
    assert checkpoint.load_latest(run)["step"] == 4

    from train.export import export
    export(run, weights, version="1", name="ddp", k=2, names=[])
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    assert studio.design({"hair": "bob"}, 1).size == (32, 32)


def test_a_stage_turns_a_train_error_into_one_line_and_exit_status_2(tmp_path, capsys):
    """Library functions raise TrainError; only main() makes it an exit status."""
    from train.export import export, main as export_main
    (tmp_path / "run").mkdir()
    with pytest.raises(TrainError, match="no usable checkpoint in"):
        export(tmp_path / "run", tmp_path / "w", "1", None, 2, [])
    assert export_main([str(tmp_path / "run"), str(tmp_path / "w")]) == 2
    err = capsys.readouterr().err
    assert err.strip() == f"python -m train.export: error: no usable checkpoint in {tmp_path / 'run'}"


def test_a_flat_config_from_before_the_nesting_is_read_and_compared(tmp_path):
    flat = {k: v for k, v in dataclasses.asdict(CFG).items() if k != "arch"} | dataclasses.asdict(CFG.arch)
    flat.pop("mapping_layers")  # a field newer than the run takes its default
    assert TrainConfig.from_dict(flat) == CFG
    assert training.same_maths(flat, CFG) and not training.same_maths({**flat, "w_dim": 64}, CFG)


def test_the_stage_list_reproduces_the_settings_that_made_the_shipped_weights():
    """train/stages.json, parsed by train.train's own flags, gives every recorded stage's settings."""
    import argparse
    from train.stages import read_stages
    from train.train import RESUMABLE, add_dataclass_arguments, config_from_args
    shipped = ROOT / "weights" / "avatar-studio"
    data = read_stages()
    assert data["model"] == "{name}@{version}".format(**json.loads((shipped / "config.json").read_text()))
    recorded = {st["run"]: st["train_config"] for st in json.loads((shipped / "training.json").read_text())["stages"]}
    trains = [st["command"][1:] for st in data["stages"] if st["command"][0] == "train.train"]
    assert [args[args.index("--out") + 1] for args in trains] == list(recorded), "every stage, in order"
    for args in trains:
        parser = argparse.ArgumentParser()
        for flag in ("--data", "--out", "--preset"):
            parser.add_argument(flag)
        add_dataclass_arguments(parser)
        got = dataclasses.asdict(config_from_args(parser.parse_args(args), args))
        want = dataclasses.asdict(TrainConfig.from_dict(recorded[args[args.index("--out") + 1]]))
        bookkeeping = set(RESUMABLE) - {"minutes"}
        assert {k: v for k, v in got.items() if k not in bookkeeping} == \
               {k: v for k, v in want.items() if k not in bookkeeping}
    export = data["stages"][-1]["command"]
    assert export[:3] == ["train.export", trains[-1][trains[-1].index("--out") + 1], "weights/avatar-studio"]
    card = (shipped / "README.md").read_text()
    assert "## Reproduce" in card and "python -m train.train --data data/train128 --preset cpu --out runs/cpu128m" in card


def test_a_stage_list_that_warm_starts_from_nowhere_is_refused(tmp_path):
    from train.stages import read_stages
    bad = {"model": "x@1", "about": "", "stages": [
        {"name": "b", "command": ["train.train", "--out", "runs/b", "--init-from", "runs/a"]}]}
    (tmp_path / "stages.json").write_text(json.dumps(bad))
    with pytest.raises(TrainError, match="warm-starts from runs/a, which no earlier stage makes"):
        read_stages(tmp_path / "stages.json")


SHIPPED_MAIN = Path(__file__).resolve().parent.parent / "weights" / "avatar-studio"


def regenerated_main_card(tmp_path: Path) -> str:
    """The shipped model's card written again from its config, training and evaluation files."""
    import shutil
    from train.model_card import write_model_card
    folder = tmp_path / "avatar-studio"
    folder.mkdir()
    for name in ("config.json", "training.json", "evaluation.json"):
        shutil.copy(SHIPPED_MAIN / name, folder / name)
    write_model_card(folder)
    return (folder / "README.md").read_text().replace(str(folder), "weights/avatar-studio")


def test_the_model_card_carries_the_version_history(tmp_path):
    """The README's version history lives in the model card: write_model_card renders train/history.md."""
    card = regenerated_main_card(tmp_path)
    assert "## Version history" in card and "### @3 -> @4" in card
    assert card.index("## Evaluation") < card.index("## Version history")


def test_the_main_model_card_is_written_whole_from_its_files(tmp_path):
    """Regenerating the shipped card gives the shipped card: its upsampler section and version history
    come from train/upsampler.md and train/history.md (the upsampler section was once lost that way)."""
    assert regenerated_main_card(tmp_path) == (SHIPPED_MAIN / "README.md").read_text()


def test_a_style_card_names_its_style_artwork_and_licence_and_nothing_of_avataaars(two_styles, tmp_path):
    """big-smile's card: its DiceBear style, its CC BY 4.0 credit (author, licence, source), its own stage
    list; neither the main model's version history nor its upsampler story."""
    import shutil
    from train.model_card import write_model_card
    folder = tmp_path / "big-smile"
    shutil.copytree(two_styles.parent / "big-smile", folder)
    write_model_card(folder)
    card = (folder / "README.md").read_text()
    assert card.startswith("---\nlicense: cc-by-4.0\n")
    assert 'DiceBear "big-smile" style' in card and "Ashley Seo" in card and "CC BY 4.0" in card
    assert "two condition colours" in card
    assert "avataaars" not in card.lower() and "hat colour" not in card
    assert "## Version history" not in card and "None yet for this style" in card


def test_a_blown_up_loss_stops_the_run_and_says_to_lower_the_learning_rate():
    """The logged losses of adventurer's plain stage at lr 2e-3 (every 250 steps): it stops at the jump;
    a run that learns, with batch noise (big-smile's), never does; 0 turns the watch off."""
    from train.train import DivergenceWatch
    blown = [0.66, 0.52, 0.47, 0.52, 0.48, 0.49, 0.47, 0.48, 0.50, 0.49, 1.11, 1.06, 1.10, 1.12, 1.05, 1.07]
    watch = DivergenceWatch(2.0, after=200, lr=0.002)
    stops = [(i, m) for i, r in enumerate(blown) if (m := watch.add(300 + 250 * i, r))]
    assert stops and stops[0][0] in (12, 13, 14), "within a few logs of the jump"
    assert "--lr (this run: 0.002), e.g. --lr 0.001" in stops[0][1] and "x its best" in stops[0][1]
    learning = [0.087, 0.080, 0.063, 0.061, 0.055, 0.031, 0.026, 0.022, 0.024, 0.019, 0.020, 0.0107, 0.0081, 0.0105,
                0.0083, 0.0107, 0.0078, 0.0108]
    for factor in (2.0, 0.0):
        watch = DivergenceWatch(factor, after=200, lr=0.002)
        assert not any(watch.add(300 + 250 * i, r) for i, r in enumerate(learning))
    off = DivergenceWatch(0.0, after=200, lr=0.002)
    assert not any(off.add(300 + 250 * i, r) for i, r in enumerate(blown))


def test_a_run_whose_loss_turns_to_nan_stops_with_a_clear_error(tiny_data, tmp_path):
    """At an absurd learning rate the tiny run's loss is NaN by its second step: it stops (exit 2 from the
    CLI) instead of training on for nothing; with the watch off it runs to its end."""
    import dataclasses
    cfg = dataclasses.replace(PRESETS["tiny"], steps=12, lr=30.0, log_every=1)
    with pytest.raises(TrainError, match=r"loss is nan at step \d+\. .*lower --lr \(this run: 30\), e\.g\. --lr 15"):
        train(tiny_data, tmp_path / "nan", cfg, progress=False)
    assert train(tiny_data, tmp_path / "off", dataclasses.replace(cfg, diverged=0.0), progress=False)

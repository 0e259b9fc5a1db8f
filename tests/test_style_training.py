"""Training readiness of the further styles: their stage lists, the one-go script, the artwork record."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from avatar_studio import AvatarStudio, weights
from train import styles, train_styles, warm_start
from train.errors import TrainError
from train.legacy import record_artwork
from train.stages import main as stages_main, read_stages, stage_list_for, style_stages, with_flag

NEW = ("adventurer", "big-smile", "micah")


@pytest.mark.parametrize("style", NEW)
def test_each_style_has_a_stage_list_that_ends_in_its_weights_folder(style):
    data = read_stages(style_stages(style))
    assert data["model"] == f"avatar-studio-{style}@1" and data["style"] == style
    root = Path(__file__).resolve().parent.parent
    progress = root / "train" / "styles" / "progress" / style
    shipped = root / train_styles.weights_folder(style)
    if shipped.exists():  # trained: the about says which steps of which stages made the shipped weights
        record = json.loads((shipped / "training.json").read_text())
        assert "SHIPPED" in data["about"] and f"step {record['step']} " in data["about"]
        assert json.loads((shipped / "config.json").read_text())["name"] == data["model"].split("@")[0]
        assert not progress.exists(), "a shipped style's progress pack goes"
        evaluation = json.loads((shipped / "evaluation.json").read_text())  # measured on its own held-out renders
        assert evaluation["pass"]["all"] and evaluation["n"] == 2000 and evaluation["style"] == style
        assert evaluation["classifier"]["folder"] == f"runs/{style}/judge"
    elif warm_start.is_pack(progress):  # a stage ran part-way: its checkpoint is packed to go on from
        assert "IN PROGRESS" in data["about"] and f"--init-from train/styles/progress/{style}" in data["about"]
        packed = warm_start.load(progress)  # checksum checked
        assert packed["generator_config"]["vocabulary"]["style"] == style
        assert packed["generator_config"]["channels"] == [64, 48, 32, 16]
        assert f"step {packed['step']} " in data["about"]
    else:
        assert "NOT RUN YET" in data["about"]
    modules = [st["command"][0] for st in data["stages"]]
    assert modules == ["train.render_dataset", "train.render_dataset", "train.classifier", "train.train",
                       "train.train", "train.train", "train.export", "train.evaluate"]
    train_data, held_out = (st["command"] for st in data["stages"][:2])
    assert train_data[train_data.index("--style") + 1] == held_out[held_out.index("--style") + 1] == style
    assert train_data[train_data.index("--seed") + 1] != held_out[held_out.index("--seed") + 1]
    for st in data["stages"]:
        command = st["command"]
        if command[0] == "train.train":  # narrow channels (the speed bar); warm starts only within the style
            assert command[command.index("--channels") + 1:][:4] == ["64", "48", "32", "16"]
            assert "--init-from" not in command or command[command.index("--init-from") + 1].startswith(f"runs/{style}/")
    export = data["stages"][-2]["command"]
    assert train_styles.weights_folder(style) == f"weights/{style}" == export[2]  # found beside weights/avatar-studio
    assert ("--code-bank" in export) == bool(styles.vocabulary(style)["unlabelled"])  # codes only where parts are unlabelled
    evaluate = data["stages"][-1]["command"]
    assert evaluate[evaluate.index("--classifier") + 1] == f"runs/{style}/judge"  # its own judge, not runs/classifier
    assert stage_list_for(data["model"]) == data


@pytest.mark.parametrize("style", NEW)
def test_each_styles_training_stages_fit_its_data(style, tmp_path):
    """The stage list's training flags start a run on that style's renders: the style codes match its
    unlabelled parts (adventurer's and micah's lists once failed at their first training stage)."""
    from train.render_dataset import main as render_main
    from train.train import main as train_main
    data = tmp_path / "data"
    assert render_main(["--style", style, "--out", str(data), "--n", "12", "--size", "32", "--seed", "1"]) in (0, None)
    plain = next(st["command"] for st in read_stages(style_stages(style))["stages"] if st["command"][0] == "train.train")
    command = plain[1:]
    for flag, values in {"--data": [str(data)], "--out": [str(tmp_path / "run")], "--steps": ["1"], "--batch": ["4"],
                         "--channels": ["8", "8", "8", "8"], "--threads": ["1"]}.items():
        command = with_flag(command, flag, values)
    assert train_main(command) == 0
    assert (tmp_path / "run" / "samples" / "step-0000001.png").is_file(), "12 rows: a sample grid smaller than 16"
    trained = [st["command"] for st in read_stages(style_stages(style))["stages"] if st["command"][0] == "train.train"]
    for flag in ("--n-codes", "--code-classes"):  # every stage of a style draws the same codes
        assert len({tuple(c[c.index(flag):c.index(flag) + 2]) if flag in c else () for c in trained}) == 1


def test_stage_commands_print_and_refuse_unknown_styles(capsys):
    stages_main(["--style", "micah"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == ("python -m train.render_dataset --style micah --out data/micah/train128 --n 40000 --size 128 "
                        "--seed 1")
    assert stages_main(["--style", "cartoon"]) != 0
    assert "no stage list for style 'cartoon'; the styles with one: adventurer, big-smile, micah" in capsys.readouterr().err


def test_tiny_and_time_boxed_commands():
    assert with_flag(["m", "--a", "1", "2", "--b", "3"], "--a", ["9"]) == ["m", "--b", "3", "--a", "9"]
    assert with_flag(["m", "--a", "1", "--b"], "--a", None) == ["m", "--b"]
    assert with_flag(["m"], "--c", ["1"]) == ["m", "--c", "1"]
    full = train_styles.commands("adventurer")
    tiny = train_styles.commands("adventurer", tiny=True, minutes=2)
    assert len(full) == len(tiny)
    for f, t in zip(full, tiny):
        assert f[0] == t[0]
        if t[0] == "train.train":
            assert t[t.index("--steps") + 1] == "3" and t[t.index("--minutes") + 1] == "2"
            assert t[t.index("--channels") + 1:t.index("--channels") + 3] == ["16", "8"]
        if t[0] == "train.render_dataset":
            assert t[t.index("--size") + 1] == "32" and t[t.index("--out") + 1] == f[f.index("--out") + 1]
    export = [c for c in train_styles.commands("big-smile", tiny=True) if c[0] == "train.export"][0]
    assert "--code-bank" not in export and export[export.index("--version") + 1] == "tiny"


@pytest.mark.slow
def test_train_styles_runs_a_style_end_to_end_and_its_weights_load(tiny_weights, tmp_path):
    """The one-go script at toy size (about 35 s of CPU): render, critic, three training stages, export,
    evaluate; the collected folder loads beside the main weights as a second style."""
    collect = tmp_path / "weights"
    train_styles.main(["--tiny", "--styles", "big-smile", "--root", str(tmp_path / "work"), "--collect", str(collect)])
    folder = collect / "big-smile"
    evaluation = json.loads((folder / "evaluation.json").read_text())
    assert evaluation["style"] == "big-smile" and evaluation["frechet_distance"]["baseline"] == "disjoint real sample"
    assert evaluation["frechet_distance"]["real_baseline"] > 0
    shutil.copytree(tiny_weights, collect / "tiny")
    studio = AvatarStudio.from_pretrained(collect / "tiny", device="cpu")
    assert studio.styles == ["avataaars", "big-smile"] and studio.models["big-smile"].model_id == "avatar-studio-big-smile@tiny"
    studio.design(studio.restyle({"hair": "bob", "accessories": "round"}, "big-smile"), seed=1)


def test_the_shipped_config_records_its_artwork():
    shipped = weights.read_config(Path(__file__).resolve().parent.parent / "weights" / "avatar-studio")
    vocab = shipped.vocab
    assert vocab.style == "avataaars" and vocab.identity == styles.vocabulary("avataaars")["identity"]
    assert vocab.dicebear == styles.vocabulary("avataaars")["dicebear"] and vocab.credit["author"]
    assert record_artwork(shipped) is shipped                              # recorded: unchanged
    bare = dict(shipped.vocabulary)
    for key in ("style", "dicebear", "identity", "credit"):
        bare.pop(key)
    old = type(shipped)(**{**shipped.__dict__, "vocabulary": bare})
    assert not old.vocab.identity and record_artwork(old).vocabulary == shipped.vocabulary
    other = type(shipped)(**{**shipped.__dict__, "vocabulary": {**bare, "style": "micah"}})
    with pytest.raises(TrainError, match="not the micah declaration's"):
        record_artwork(other)


def test_the_vocabulary_keeps_its_artwork_record_through_save_and_load():
    from avatar_studio.attributes import Vocabulary
    declared = styles.vocabulary("adventurer")
    vocab = Vocabulary.from_dict(json.loads(json.dumps(declared)))
    again = Vocabulary.from_dict(json.loads(json.dumps(vocab.to_dict(), sort_keys=True)))  # as config.json stores it
    assert again == vocab and again.style == "adventurer" and again.style_name == "adventurer"
    assert again.identity == declared["identity"] and again.dicebear == declared["dicebear"]
    assert again.credit == declared["credit"] and list(again.categorical) == list(declared["categorical"])
    old = Vocabulary.from_dict({k: v for k, v in declared.items() if k not in ("style", "dicebear", "identity", "credit")})
    assert old.style is None and old.style_name == "avataaars" and set(old.to_dict()) == {
        "categorical", "colors", "palettes", "color_sources", "expressions"}      # as before styles

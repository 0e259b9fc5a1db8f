"""The command line (python -m avatar_studio design | batch) against the tiny weights."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from avatar_studio.cli import main

ROOT = Path(__file__).resolve().parent.parent
RECIPE = {"seed": 42, "spec": {"hair": "bob", "hair_color": "#a55728"}, "size": 128, "frame": "circle"}


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in err, err
    assert lines[0].startswith("python -m avatar_studio: error: ")
    return lines[0]


# ---- design --------------------------------------------------------------------------------
def test_design_writes_the_same_bytes_as_render_png(studio, tiny_weights, tmp_path, capsys):
    (tmp_path / "r.json").write_text(json.dumps(RECIPE))
    code, out, err = run(capsys, "design", "--recipe", str(tmp_path / "r.json"), "--out", str(tmp_path / "a.png"),
                         "--weights", str(tiny_weights))
    assert code == 0, err
    assert out.strip() == str(tmp_path / "a.png")
    assert (tmp_path / "a.png").read_bytes() == studio.render_png(RECIPE)


def test_recipe_of_another_version_of_the_model_loads_with_a_note(studio, tiny_weights, tmp_path, capsys):
    (tmp_path / "old.json").write_text(json.dumps({**RECIPE, "model": "tiny@0"}))
    code, out, err = run(capsys, "design", "--recipe", str(tmp_path / "old.json"), "--out", str(tmp_path / "a.png"),
                         "--weights", str(tiny_weights))
    assert code == 0, err
    assert err.strip() == (f"note: {tmp_path / 'old.json'}: This recipe was made with tiny@0; tiny@1 is loaded: "
                           f"the same choices, but the picture may differ.")
    assert (tmp_path / "a.png").read_bytes() == studio.render_png(RECIPE)
    (tmp_path / "other.json").write_text(json.dumps({**RECIPE, "model": "someone-else@1"}))
    code, _, err = run(capsys, "design", "--recipe", str(tmp_path / "other.json"), "--out", str(tmp_path / "b.png"),
                       "--weights", str(tiny_weights))
    assert code == 2 and "recipe is for model 'someone-else@1', but 'tiny@1' is loaded" in error_line(err)


# ---- batch ---------------------------------------------------------------------------------
def test_batch_of_seeds(studio, tiny_weights, tmp_path, capsys):
    spec = {"hair": "bob"}
    args = ("batch", "--spec", json.dumps(spec), "--seeds", "0-2,7", "--out", str(tmp_path / "out"),
            "--size", "256", "--frame", "circle", "--background", "#ffeedd", "--weights", str(tiny_weights))
    code, out, err = run(capsys, *args)
    assert code == 0, err
    assert "wrote 4 avatars" in out and "100%" in err  # the progress bar
    names = [f"seed-{s:06d}" for s in (0, 1, 2, 7)]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(
        [n + ".png" for n in names] + [n + ".json" for n in names])
    for seed, name in zip((0, 1, 2, 7), names):
        recipe = {"seed": seed, "spec": spec, "size": 256, "frame": "circle", "background": "#ffeedd"}
        png = (tmp_path / "out" / f"{name}.png").read_bytes()
        assert png == studio.render_png(recipe)
        full = json.loads((tmp_path / "out" / f"{name}.json").read_text())
        assert full["model"] == "tiny@1" and full["seed"] == seed and full["size"] == 256
        assert set(full["spec"]) == set(studio.vocab.names) and full["spec"]["hair"] == "bob"
        assert studio.render_png(full) == png, "the written recipe redraws the same avatar"

    before = {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()}
    assert run(capsys, *args)[0] == 0
    assert {p.name: p.read_bytes() for p in (tmp_path / "out").iterdir()} == before, "deterministic"


def test_batch_of_a_jsonl_file_and_of_a_folder(studio, tiny_weights, tmp_path, capsys):
    recipes = [RECIPE, {"seed": 5, "spec": {}, "size": 128}]
    (tmp_path / "team.jsonl").write_text(json.dumps(recipes[0]) + "\n\n" + json.dumps(recipes[1]) + "\n")
    code, _, err = run(capsys, "batch", "--recipes", str(tmp_path / "team.jsonl"), "--out", str(tmp_path / "a"),
                       "--weights", str(tiny_weights))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "a").glob("*.png")) == ["00001.png", "00003.png"]
    assert (tmp_path / "a" / "00003.png").read_bytes() == studio.render_png(recipes[1])

    folder = tmp_path / "recipes"
    folder.mkdir()
    (folder / "alice.json").write_text(json.dumps(recipes[0], indent=2))
    (folder / "bob.json").write_text(json.dumps(recipes[1]))
    (folder / "notes.txt").write_text("not a recipe")
    code, _, err = run(capsys, "batch", "--recipes", str(folder), "--out", str(tmp_path / "b"), "--size", "256",
                       "--weights", str(tiny_weights))
    assert code == 0, err
    assert sorted(p.name for p in (tmp_path / "b").iterdir()) == ["alice.json", "alice.png", "bob.json", "bob.png"]
    assert (tmp_path / "b" / "alice.png").read_bytes() == studio.render_png({**recipes[0], "size": 256})


# ---- bad input: one line, exit status 2, nothing written -----------------------------------
BAD = {
    "unknown choice": (["design", "--recipe", "{bad_hair}"], "unknown hair 'bobb'; choose one of: bigHair, bob"),
    "not JSON": (["design", "--recipe", "{not_json}"], "recipe is not valid JSON"),
    "no seed": (["design", "--recipe", "{no_seed}"], 'recipe needs "seed"'),
    "size off the list": (["design", "--recipe", "{bad_size}"], "size must be one of 128, 256, 512, 1024"),
    "NaN truncation": (["design", "--recipe", "{nan}"], "NaN is not a number JSON allows"),
    "huge recipe": (["design", "--recipe", "{huge}"], "is too large"),
    "binary recipe": (["design", "--recipe", "{binary}"], "is not UTF-8 text"),
    "missing recipe": (["design", "--recipe", "{missing}"], "is not a file"),
    "not a png": (["design", "--recipe", "{good}", "--out", "{tmp}/a.jpg"], "--out must name a .png file"),
    "missing weights": (["design", "--recipe", "{good}", "--weights", "{tmp}/nothing"], "no weights folder at"),
    "bad line": (["batch", "--recipes", "{jsonl}"], "team.jsonl:2: unknown hair 'bobb'"),
    "bad file in folder": (["batch", "--recipes", "{folder}"], "b.json: unknown hair 'bobb'"),
    "single json": (["batch", "--recipes", "{good}"], "--recipes takes a .jsonl file"),
    "spec not JSON": (["batch", "--seeds", "0-3", "--spec", "{{hair"], "--spec is not valid JSON"),
    "spec not object": (["batch", "--seeds", "0-3", "--spec", "[1]"], "--spec must be a JSON object"),
    "spec bad choice": (["batch", "--seeds", "0-3", "--spec", '{{"hair": "bobb"}}'], "unknown hair 'bobb'"),
    "spec bad colour": (["batch", "--seeds", "0", "--spec", '{{"hair_color": "red"}}'], "hair_color must be a colour"),
    "seeds backwards": (["batch", "--seeds", "5-1"], "--seeds range '5-1' runs backwards"),
    "seeds words": (["batch", "--seeds", "lots"], "--seeds takes seeds from 0 to 2147483647"),
    "seed too big": (["batch", "--seeds", "2147483648"], "--seeds takes seeds"),
    "too many seeds": (["batch", "--seeds", "0-2000000"], "more than 100000 avatars"),
    "size flag": (["batch", "--seeds", "0", "--size", "100"], "size must be one of"),
    "truncation flag": (["batch", "--seeds", "0", "--truncation", "nan"], "truncation must be a number"),
    "frame flag": (["batch", "--seeds", "0", "--frame", "star"], "frame must be one of: none, circle, rounded"),
    "sliders flag": (["batch", "--seeds", "0", "--sliders", "{{\"x\": 1}}"], "unknown slider 'x'"),
    "no source": (["batch"], "one of the arguments --recipes --seeds is required"),
    "both sources": (["batch", "--seeds", "0", "--recipes", "{jsonl}"], "not allowed with argument"),
    "no command": ([], "the following arguments are required"),
    "unknown flag": (["design", "--recipe", "{good}", "--colour", "red"], "unrecognized arguments: --colour red"),
}


@pytest.fixture
def inputs(tmp_path) -> dict[str, str]:
    files = {
        "good": json.dumps(RECIPE), "bad_hair": json.dumps({**RECIPE, "spec": {"hair": "bobb"}}),
        "not_json": "{seed: 1", "no_seed": json.dumps({"spec": {}}),
        "bad_size": json.dumps({**RECIPE, "size": 100}), "nan": '{"seed": 1, "spec": {}, "truncation": NaN}',
        "huge": json.dumps({**RECIPE, "spec": {"hair": "x" * 20_000}}),
    }
    paths = {}
    for name, text in files.items():
        paths[name] = str(tmp_path / f"{name}.json")
        Path(paths[name]).write_text(text)
    paths["binary"] = str(tmp_path / "binary.json")
    Path(paths["binary"]).write_bytes(b"\xff\xfe\x00garbage")
    paths["missing"] = str(tmp_path / "missing.json")
    paths["jsonl"] = str(tmp_path / "team.jsonl")
    Path(paths["jsonl"]).write_text(files["good"] + "\n" + files["bad_hair"] + "\n")
    (tmp_path / "folder").mkdir()
    (tmp_path / "folder" / "a.json").write_text(files["good"])
    (tmp_path / "folder" / "b.json").write_text(files["bad_hair"])
    paths["folder"] = str(tmp_path / "folder")
    paths["tmp"] = str(tmp_path)
    return paths


@pytest.mark.parametrize("argv, message", BAD.values(), ids=BAD.keys())
def test_bad_input_is_one_line_and_exit_2(tiny_weights, tmp_path, inputs, capsys, argv, message):
    argv = [a.format(**inputs) for a in argv]
    if argv and "--out" not in argv:
        argv += ["--out", str(tmp_path / "out" / ("a.png" if argv[0] == "design" else ""))]
    if argv and "--weights" not in argv:
        argv += ["--weights", str(tiny_weights)]
    code, out, err = run(capsys, *argv)
    assert code == 2
    assert message in error_line(err)
    assert not (tmp_path / "out").exists(), "nothing is drawn when the input is bad"


@pytest.mark.server
def test_as_a_program(tiny_weights, tmp_path):
    """python -m avatar_studio: --help shows worked examples; a bad recipe is one line and status 2."""
    help_ = subprocess.run([sys.executable, "-m", "avatar_studio", "--help"], cwd=ROOT, capture_output=True,
                           text=True, timeout=120)
    assert help_.returncode == 0, help_.stderr
    for example in ("python -m avatar_studio design --recipe", "python -m avatar_studio batch --spec",
                    "--seeds 0-99", "batch --recipes team.jsonl"):
        assert example in help_.stdout

    (tmp_path / "r.json").write_text('{"seed": 1, "spec": {"hair": "bobb"}}')
    bad = subprocess.run([sys.executable, "-m", "avatar_studio", "design", "--recipe", str(tmp_path / "r.json"),
                          "--out", str(tmp_path / "a.png"), "--weights", str(tiny_weights)],
                         cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert bad.returncode == 2
    assert "unknown hair 'bobb'" in error_line(bad.stderr) and bad.stdout == ""
    assert not (tmp_path / "a.png").exists()

"""Evaluation, classifier and benchmarks on the tiny fixtures (fast tier)."""
from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch

from benchmarks import design as benchmark_design, render as benchmark_render
from train import classifier, evaluate, styles
from train.classifier import FitConfig
from train.dataset import load_images, read_metadata
from train.errors import TrainError

TINY_FIT = FitConfig(epochs=40, batch=16, lr=5e-3)


@pytest.fixture(scope="module")
def tiny_classifier(tiny_data, tmp_path_factory):
    folder = tmp_path_factory.mktemp("classifier")
    model, meta = classifier.obtain(folder, tiny_data, TINY_FIT, log=lambda *_: None)
    return folder, model, meta


def _last_json(text: str) -> dict:
    return json.loads([line for line in text.splitlines() if line.startswith("{")][-1])


# ---- the classifier -----------------------------------------------------------------------
def test_classifier_learns_the_tiny_set(tiny_data, tiny_classifier):
    _, model, meta = tiny_classifier
    assert meta["data"]["rows"] == 48 and meta["fit"] == json.loads(json.dumps(TINY_FIT.__dict__))
    result = classifier.evaluate_folder(model, tiny_data)
    accuracies = list(result["accuracy"].values())
    # chance is 1/6 .. 1/35 per attribute; a classifier that learned nothing scores ~0.1
    assert sum(accuracies) / len(accuracies) > 0.6, result
    assert all(0 <= e < 60 for e in result["color_error"].values()), result


def test_classifier_save_load_round_trip(tiny_data, tiny_classifier, tmp_path):
    folder, model, meta = tiny_classifier
    again, meta_again = classifier.load(folder)
    assert again.config == model.config and meta_again["fit"] == meta["fit"]
    _, rows = read_metadata(tiny_data)
    images = load_images(tiny_data, rows[:8], model.config.size)
    a, b = classifier.predict(model, images), classifier.predict(again, images)
    assert torch.equal(a.index, b.index) and torch.allclose(a.features, b.features) and torch.allclose(a.rgb, b.rgb)
    # strict: a weights file missing a tensor is refused
    from safetensors.torch import load_file, save_file
    state = load_file(str(folder / classifier.WEIGHTS_FILE))
    state.pop("heads.weight")
    broken = tmp_path / "broken"
    broken.mkdir()
    save_file(state, str(broken / classifier.WEIGHTS_FILE))
    (broken / classifier.CONFIG_FILE).write_text((folder / classifier.CONFIG_FILE).read_text())
    with pytest.raises(RuntimeError, match="Missing key"):
        classifier.load(broken)


def test_cached_classifier_is_reused_only_when_it_matches(tiny_data, tiny_classifier):
    folder, _, _ = tiny_classifier
    weights = folder / classifier.WEIGHTS_FILE
    before = weights.stat().st_mtime_ns
    logged = []
    classifier.obtain(folder, tiny_data, TINY_FIT, log=logged.append)
    classifier.obtain(folder, None, TINY_FIT, log=logged.append)  # no data: the cache as it is
    assert weights.stat().st_mtime_ns == before and not logged
    assert not classifier.matches(classifier.read_meta(folder), tiny_data, FitConfig(epochs=1))
    with pytest.raises(TrainError, match="--train-data"):
        classifier.obtain(folder / "nothing", None, TINY_FIT)


# ---- metrics --------------------------------------------------------------------------------
def test_frechet_distance_of_known_gaussians():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(4000, 3, generator=g)
    b = torch.randn(4000, 3, generator=g)
    assert evaluate.frechet_distance(a, a) == pytest.approx(0.0, abs=1e-6)
    assert evaluate.frechet_distance(a, b) < 0.05
    shifted = evaluate.frechet_distance(a, b + torch.tensor([2.0, 0.0, 0.0]))
    assert shifted == pytest.approx(4.0, abs=0.15)
    scaled = evaluate.frechet_distance(a, 3 * b)  # 3 x (1 + 9 - 2 * 3) = 12
    assert scaled == pytest.approx(12.0, rel=0.05)


def test_entropy_and_edit_success():
    assert evaluate.normalised_entropy(torch.arange(10).repeat(5), 10) == pytest.approx(1.0)
    assert evaluate.normalised_entropy(torch.zeros(50, dtype=torch.long), 10) == 0.0
    assert evaluate.normalised_entropy(torch.tensor([0, 1] * 10), 4) == pytest.approx(0.5)
    P = classifier.Predictions
    empty = torch.zeros(3, 1)
    base = P(torch.tensor([[0, 0, 0], [1, 1, 1], [2, 2, 2]]), empty, empty)
    edited = P(torch.tensor([[5, 0, 0], [1, 7, 1], [2, 9, 3]]), empty, empty)
    ok = evaluate.edit_success(base, edited, attr=torch.tensor([0, 1, 1]), new=torch.tensor([5, 6, 9]))
    assert ok.tolist() == [True, False, False]  # row 1 missed the new value; row 2 changed another attribute


def test_edits_change_one_attribute_to_another_value(tiny_data):
    vocab, rows = read_metadata(tiny_data)
    names = list(vocab.categorical)
    for i, row in enumerate(rows[:20]):
        name, value = evaluate.edit_for(i, row, names, vocab.categorical)
        assert name == names[i % len(names)] and value != row[name] and value in vocab.categorical[name]
    assert evaluate.other_hidden(3) == evaluate.other_hidden(3) != evaluate.other_hidden(4)


# ---- evaluate end to end ---------------------------------------------------------------------
def test_evaluate_writes_every_figure(tiny_weights, tiny_data, tiny_classifier, tmp_path, capsys):
    folder, _, _ = tiny_classifier
    out = tmp_path / "evaluation.json"
    evaluate.main(["--weights", str(tiny_weights), "--data", str(tiny_data), "--classifier", str(folder),
                   "--n", "24", "--timing-runs", "3", "--out", str(out)])
    printed = capsys.readouterr().out
    assert "conditioning accuracy" in printed and "all bars met" in printed and str(out) in printed
    r = json.loads(out.read_text())
    vocab, _ = read_metadata(tiny_data)
    assert r["n"] == 24 and r["resolution"] == 32 and r["classifier"]["size"] == 32
    assert set(r["conditioning_accuracy"]) == set(vocab.categorical)
    assert set(r["color_error"]) == set(vocab.colors)
    for v in [*r["conditioning_accuracy"].values(), *r["color_error"].values(), r["edit_consistency"]]:
        assert set(v) >= {"generated", "real", "ratio"}
        if v["ratio"] is not None:  # figures are rounded to 4 decimals, the ratio is of the exact values
            slack = 1e-4 * (1 + v["ratio"]) / v["real"] + 1e-4
            assert v["ratio"] == pytest.approx(v["generated"] / v["real"], abs=slack)
    for v in r["conditioning_accuracy"].values():
        assert 0 <= v["generated"] <= 1 and 0 <= v["real"] <= 1
    # the real renders are the ones the classifier learned: its ceiling is high
    assert sum(v["real"] for v in r["conditioning_accuracy"].values()) / len(vocab.categorical) > 0.6
    assert set(r["edit_consistency"]["per_attribute"]) == set(vocab.categorical)
    fd = r["frechet_distance"]
    assert fd["generated"] > 0 and fd["real_baseline"] >= 0
    assert set(fd) == {"generated", "real_baseline", "ratio", "baseline", "disjoint", "paired"}
    assert fd["baseline"] == "other unlabelled choices"  # avataaars has unlabelled parts: today's baseline
    dj, pr = fd["disjoint"], fd["paired"]
    assert dj["baseline"] == "disjoint real sample" and dj["generated"] > 0 and dj["real_baseline"] > 0
    assert pr == {k: fd[k] for k in pr} and pr["baseline"] == "other unlabelled choices"  # both blocks, always
    assert set(r["diversity"]) == {"hair", "outfit"}
    assert all(0 <= v["generated"] <= 1 for v in r["diversity"].values())
    assert r["ms_per_avatar"]["median"] > 0 and r["ms_per_avatar"]["runs"] == 3
    bars = r["pass"]
    assert set(bars) == {*evaluate.BARS, "all"}
    assert bars["all"] == all(bars[k]["met"] for k in evaluate.BARS)
    for k in evaluate.BARS:
        assert bars[k]["met"] == (not bars[k]["failing"]) and bars[k]["bar"] == evaluate.BARS[k]
    # an untrained 12-step model is far from its ceiling: the judge must say so
    assert not bars["conditioning_accuracy"]["met"] and not bars["all"]


def test_bars_follow_the_figures():
    def figures(acc, colour, fd, edit, div):
        return {"conditioning_accuracy": {"hair": evaluate._pair(acc, 1.0)},
                "color_error": {"hair_color": evaluate._pair(colour, 5.0)},
                "frechet_distance": {"generated": fd, "real_baseline": 1.0, "ratio": fd},
                "edit_consistency": evaluate._pair(edit, 1.0),
                "diversity": {"hair": evaluate._pair(div, 1.0)}}
    assert evaluate.check_bars(figures(0.96, 9.9, 3.9, 0.91, 0.95))["all"]
    failing = evaluate.check_bars(figures(0.94, 10.1, 4.1, 0.89, 0.85))
    assert [k for k in evaluate.BARS if failing[k]["met"]] == [] and not failing["all"]


def test_help_shows_a_worked_example(capsys):
    for module in (evaluate, classifier, benchmark_render, benchmark_design):
        with pytest.raises(SystemExit):
            module.main(["--help"])
        assert "Example" in capsys.readouterr().out


# ---- benchmarks -------------------------------------------------------------------------------
def test_benchmark_render_reports_a_ratio(capsys):
    benchmark_render.main(["--n", "6", "--size", "32", "--workers", "2"])
    printed = capsys.readouterr().out
    r = _last_json(printed)
    assert "ratio" in printed and r["identical_images"] is True
    assert r["bare_avatars_per_s"] > 0 and r["render_dataset_avatars_per_s"] > 0
    assert r["ratio"] == pytest.approx(r["render_dataset_avatars_per_s"] / r["bare_avatars_per_s"], rel=0.01)


def test_benchmark_design_reports_a_ratio(tiny_weights, capsys):
    benchmark_design.main(["--weights", str(tiny_weights), "--n", "4"])
    printed = capsys.readouterr().out
    r = _last_json(printed)
    assert "ratio" in printed and r["size"] == 32
    assert r["design_ms_median"] > 0 and r["dicebear_resvg_ms_median"] > 0
    assert r["ratio"] == pytest.approx(r["design_ms_median"] / r["dicebear_resvg_ms_median"], rel=0.01)
    assert r["batch8_avatars_per_s"] > 0 and r["png_encode_ms_median"] > 0
    assert math.isfinite(r["ratio"]) and r["met"] == (r["ratio"] <= benchmark_design.GOAL)


@pytest.mark.slow  # three fresh processes importing torch and gradio
def test_benchmark_startup_compares_every_style_with_the_main_one(two_styles, capsys):
    from benchmarks import startup
    startup.main(["--weights", str(two_styles), "--n", "1"])
    printed = capsys.readouterr().out
    r = _last_json(printed)
    assert r["styles"] == {"main": ["avataaars"], "all": ["avataaars", "big-smile"]}
    assert all(s > 0 for kind in ("main", "all") for s in r["seconds"][kind])
    assert r["ratio_all_vs_main"] == pytest.approx(r["seconds"]["all"][0] / r["seconds"]["main"][0])
    assert r["met"] == (r["ratio_all_vs_main"] <= startup.GOAL) and "goal <= 1.5" in printed


def test_big_smile_needs_the_disjoint_fd_baseline():
    """big-smile has no unlabelled parts: re-rendering the same specs gives the same pictures (an FD baseline
    of 0); a second, disjoint real sample gives the sampling noise of FD instead."""
    from train.render_dataset import draw_labels
    vocab = styles.vocabulary("big-smile")
    assert vocab["unlabelled"] == {} and evaluate.other_hidden(3, style="big-smile") == {}
    rows = [draw_labels(1, i, vocab) for i in range(16)]
    real = [np.asarray(evaluate.render_image(lab, hid, 16, "big-smile"), np.float32) for lab, hid in rows]
    again = [np.asarray(evaluate.render_image(lab, evaluate.other_hidden(i, style="big-smile"), 16, "big-smile"),
                        np.float32) for i, (lab, _) in enumerate(rows)]
    assert all(np.array_equal(a, b) for a, b in zip(real, again))
    disjoint = [np.asarray(im, np.float32) for im in evaluate.disjoint_sample(16, 16, "big-smile")]
    assert all(np.array_equal(a, np.asarray(b, np.float32))
               for a, b in zip(disjoint, evaluate.disjoint_sample(16, 16, "big-smile")))  # its own fixed stream
    feats = lambda images: torch.tensor(np.stack([im[::4, ::4].reshape(-1) for im in images]) / 255.0)  # noqa: E731
    assert evaluate.frechet_distance(feats(real), feats(again)) == pytest.approx(0.0, abs=1e-4)
    assert evaluate.frechet_distance(feats(real), feats(disjoint)) > 0.01


def test_the_fd_bar_leaves_a_paired_baseline_too_small_to_measure():
    """The bar reads the paired FD baseline (other unlabelled choices) unless it is under 1% of the disjoint
    one: figures of the first micah and adventurer evaluations (n=2000, each style's own judge)."""
    block = evaluate.fd_block
    micah = block(46.004, 5.752, "other unlabelled choices"), block(147.198, 110.372, "disjoint real sample")
    adventurer = block(178.375, 0.043, "other unlabelled choices"), block(342.472, 175.717, "disjoint real sample")
    big_smile = block(152.5, 0.0, "other unlabelled choices"), block(152.5, 61.2, "disjoint real sample")
    assert evaluate.bar_baseline(*micah) is micah[0]            # 5% of the disjoint: the paired one counts
    assert evaluate.bar_baseline(*adventurer) is adventurer[1]  # 0.02%: the disjoint one
    assert evaluate.bar_baseline(*big_smile) is big_smile[1]
    bars = lambda fd: evaluate.check_bars({  # noqa: E731
        "frechet_distance": fd, "conditioning_accuracy": {}, "color_error": {},
        "edit_consistency": {"ratio": 1.0}, "diversity": {}})["frechet_distance"]["met"]
    assert not bars(evaluate.bar_baseline(*micah)) and bars(evaluate.bar_baseline(*adventurer))

"""The generator and its weights: export -> strict reload, bad specs, damaged weights, no pickle."""
from __future__ import annotations

import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from avatar_studio import AvatarStudio, WeightsError
from avatar_studio.weights import load_generator, write_checksums
from train import checkpoint

PACKAGE = Path(__file__).resolve().parent.parent / "avatar_studio"
SPEC = {"hair": "bob", "outfit": "hoodie", "eyes": "happy", "hair_color": "#a55728"}


def same(a, b) -> bool:
    return a.mode == b.mode and a.size == b.size and np.array_equal(np.asarray(a), np.asarray(b))


# ---- train -> export -> strict reload -> same image ----------------------------------------
def test_export_holds_the_ema_weights_and_reloads_strictly(tiny_run, tiny_weights):
    names = {p.name for p in tiny_weights.iterdir()}
    assert {"config.json", "model.safetensors", "checksums.json", "README.md"} <= names
    assert not {n for n in names if n.endswith((".bin", ".pt", ".pth", ".pkl"))}
    ema = checkpoint.load_latest(tiny_run)["ema"]
    shipped = load_file(tiny_weights / "model.safetensors")
    assert shipped.keys() == ema.keys()
    assert all(torch.equal(shipped[k], ema[k]) for k in ema)
    model = load_generator(tiny_weights)  # checksums + strict=True
    assert not model.training and not any(p.requires_grad for p in model.parameters())


def test_reloaded_model_draws_the_same_image_for_the_same_seed(studio, tiny_weights):
    again = AvatarStudio.from_pretrained(tiny_weights, device="cpu")
    assert again.model_id == studio.model_id == "tiny@1"
    assert again.attributes == studio.attributes
    for seed in (0, 42, 2**31 - 1):
        a, b = studio.design(SPEC, seed=seed), again.design(SPEC, seed=seed)
        assert a.mode == "RGBA" and a.size == (studio.resolution,) * 2
        assert same(a, b)
    assert same(studio.design({}, 7), studio.design({}, 7))
    assert not same(studio.design({}, 7), studio.design({}, 8)), "other seeds, other avatars"


def test_batch_element_equals_single_design(studio):
    specs = [SPEC, {}, {"hair": "none", "accessories": "sunglasses"}, SPEC]
    seeds = [3, 3, 11, 12]
    batch = studio.design_batch(specs, seeds)
    for spec, seed, image in zip(specs, seeds, batch):
        assert same(image, studio.design(spec, seed))
    assert same(studio.design_batch([{}, SPEC], [5, 12])[1], batch[3]), "whatever else is in the batch"
    for truncation in (0.5, 1.0):
        assert same(studio.design_batch([{}, SPEC], [1, 2], truncation)[1], studio.design(SPEC, 2, truncation))


def test_part_templates_read_only_the_maps_in_use_and_equal_the_whole_product(studio):
    g = studio.generator
    classes = torch.zeros(3, g.config.class_width)
    classes[0, [0, 40]] = 1.0
    classes[1, 2], classes[1, 5] = 0.25, 0.75  # half-way between two avatars (a morph)
    with torch.no_grad():
        got = g.part_templates(classes).flatten(1)
        want = classes @ g.templates + g.template_bias
    assert got.shape == (3, g.config.template_channels * g.config.template_res ** 2)
    assert torch.allclose(got, want, atol=1e-6)
    assert torch.equal(got[2], g.template_bias), "no class, no template"


def test_any_is_resolved_by_the_seed(studio):
    full = studio.resolve({"hair": "bob"}, seed=9)
    assert full["hair"] == "bob" and set(full) == set(studio.vocab.names)
    assert same(studio.design(full, 9), studio.design({"hair": "bob"}, 9))
    assert same(studio.design({"hair": "any"}, 9), studio.design({}, 9))


# ---- bad specs -----------------------------------------------------------------------------
HUGE = "#" + "a" * 20_000_000
BAD_SPECS = {
    "unknown attribute": ({"hat": "bob"}, ["unknown attribute 'hat'", "hair, outfit, eyes"]),
    "unknown choice": ({"hair": "bobb"}, ["unknown hair 'bobb'", "choose one of: bigHair, bob, bun"]),
    "None choice": ({"outfit": None}, ["unknown outfit None", "hoodie"]),
    "list choice": ({"hair": ["bob"]}, ["unknown hair ['bob']", "bob, bun"]),
    "number choice": ({"eyes": 3}, ["unknown eyes 3", "happy"]),
    "colour word": ({"hair_color": "red"}, ["hair_color must be a colour like '#a55728'", "'red'"]),
    "short colour": ({"hair_color": "#12345"}, ["hair_color must be", "#rrggbb"]),
    "long colour": ({"skin_color": "#1234567"}, ["skin_color must be", "#rrggbb"]),
    "not hex": ({"outfit_color": "#gggggg"}, ["outfit_color must be", "#rrggbb"]),
    "script": ({"hair_color": "javascript:alert(1)"}, ["hair_color must be", "#rrggbb"]),
    "None colour": ({"hair_color": None}, ["hair_color must be", "#rrggbb"]),
    "list colour": ({"hair_color": ["#ffffff"]}, ["hair_color must be", "#rrggbb"]),
    "number colour": ({"hair_color": 0xFFFFFF}, ["hair_color must be", "#rrggbb"]),
    "20 MB colour": ({"hair_color": HUGE}, ["hair_color must be", "#rrggbb"]),
    "20 MB choice": ({"hair": HUGE}, ["unknown hair '#aaaa", "bob, bun"]),
    "20 MB key": ({HUGE: "bob"}, ["unknown attribute '#aaaa", "hair, outfit"]),
    "string spec": ("bob", ["spec must be a JSON object"]),
    "list spec": ([{"hair": "bob"}], ["spec must be a JSON object"]),
    "None spec": (None, ["spec must be a JSON object"]),
}


@pytest.mark.parametrize("spec, needles", BAD_SPECS.values(), ids=BAD_SPECS.keys())
def test_bad_spec_raises_naming_field_and_choices(studio, spec, needles):
    t0 = time.perf_counter()
    with pytest.raises(ValueError) as e:
        studio.design(spec, seed=1)
    assert time.perf_counter() - t0 < 1.0
    message = str(e.value)
    assert len(message) < 2000, "a huge value is not echoed back"
    for needle in needles:
        assert needle in message
    with pytest.raises(ValueError):
        studio.design_batch([{}, spec], [1, 2])


@pytest.mark.parametrize("seed", [-1, 2**31, 10**30, 1.5, float("nan"), float("inf"), "5", None, True, [1]])
def test_seed_outside_range_raises(studio, seed):
    with pytest.raises(ValueError, match=r"seed must be a whole number from 0 to 2147483647"):
        studio.design({}, seed=seed)


@pytest.mark.parametrize("truncation", [float("nan"), float("inf"), -float("inf"), -0.1, 1.51, "1", None, True])
def test_bad_truncation_raises(studio, truncation):
    with pytest.raises(ValueError, match=r"truncation must be a number from 0.0 to 1.5"):
        studio.design({}, seed=1, truncation=truncation)


@pytest.mark.parametrize("value", [float("nan"), float("inf"), -float("inf"), 3.01, -1e9, "1", None, False])
def test_bad_slider_value_raises(studio, value):
    with pytest.raises(ValueError, match=r"slider hat colour must be a number from -3.0 to 3.0"):
        studio.design({}, seed=1, sliders={"hat colour": value})


def test_unknown_slider_and_bad_sliders_raise(studio):
    assert studio.sliders == ["hat colour", "style 2", "style 3"]
    with pytest.raises(ValueError, match=r"unknown slider 'glasses'; choose from: hat colour, style 2, style 3"):
        studio.design({}, seed=1, sliders={"glasses": 1.0})
    with pytest.raises(ValueError, match=r"sliders must be an object"):
        studio.design({}, seed=1, sliders=[1.0])
    moved = studio.design({}, seed=1, sliders={"hat colour": 3.0, "style 2": -3})
    assert moved.size == (studio.resolution,) * 2  # the ends of the range are fine


# ---- damaged weights are refused, naming the file ------------------------------------------
def _rewrite(path: Path, change) -> None:
    path.write_bytes(change(path.read_bytes()))


def _flip_bit(data: bytes) -> bytes:
    i = len(data) // 2
    return data[:i] + bytes([data[i] ^ 0x10]) + data[i + 1:]


def _drop_tensor(folder: Path) -> None:
    state = load_file(folder / "model.safetensors")
    state.pop("free_color.weight")
    save_file(state, folder / "model.safetensors")
    write_checksums(folder)  # a consistent manifest: only the strict load can catch it


def _add_tensor(folder: Path) -> None:
    state = load_file(folder / "model.safetensors")
    state["backdoor.weight"] = torch.zeros(3)
    save_file(state, folder / "model.safetensors")
    write_checksums(folder)


def _edit_config(change):
    def edit(folder: Path) -> None:
        config = json.loads((folder / "config.json").read_text())
        change(config)
        (folder / "config.json").write_text(json.dumps(config))
        write_checksums(folder)
    return edit


def _config_text(text: str):
    def edit(folder: Path) -> None:
        (folder / "config.json").write_text(text)
        write_checksums(folder)
    return edit


def _replace_with_pickle(folder: Path) -> None:
    torch.save(load_file(folder / "model.safetensors"), folder / "pytorch_model.bin")
    (folder / "model.safetensors").unlink()
    write_checksums(folder)


DAMAGE = {
    "truncated weights": (lambda f: _rewrite(f / "model.safetensors", lambda b: b[:len(b) // 2]),
                          r"model\.safetensors is damaged"),
    "empty weights": (lambda f: _rewrite(f / "model.safetensors", lambda b: b""), r"model\.safetensors is damaged"),
    "garbage weights": (lambda f: _rewrite(f / "model.safetensors", lambda b: bytes(range(256)) * (len(b) // 256)),
                        r"model\.safetensors is damaged"),
    "bit-flipped weights": (lambda f: _rewrite(f / "model.safetensors", _flip_bit), r"model\.safetensors is damaged"),
    "missing weights": (lambda f: (f / "model.safetensors").unlink(), r"model\.safetensors is missing"),
    "missing tensor": (_drop_tensor, r"(?s)model\.safetensors cannot be loaded: .*Missing key.*free_color\.weight"),
    "extra tensor": (_add_tensor, r"(?s)model\.safetensors cannot be loaded: .*Unexpected key.*backdoor\.weight"),
    "truncated config": (lambda f: _rewrite(f / "config.json", lambda b: b[:20]), r"config\.json is damaged"),
    "bit-flipped config": (lambda f: _rewrite(f / "config.json", _flip_bit), r"config\.json is damaged"),
    "missing config": (lambda f: (f / "config.json").unlink(), r"no config\.json in"),
    "config not JSON": (_config_text("{not json"), r"config\.json does not describe a generator"),
    "config not an object": (_config_text("[1, 2]"), r"config\.json does not describe a generator"),
    "config without vocabulary": (_edit_config(lambda c: c.pop("vocabulary")),
                                  r"config\.json does not describe a generator"),
    "config with unknown field": (_edit_config(lambda c: c.update(backdoor=1)),
                                  r"config\.json does not describe a generator"),
    "config with broken vocabulary": (_edit_config(lambda c: c.update(vocabulary={"categorical": 5})),
                                      r"config\.json does not describe a generator"),
    "config with negative size": (_edit_config(lambda c: c.update(w_dim=-3)),
                                  r"config\.json does not describe a generator"),
    "config of another shape": (_edit_config(lambda c: c.update(embed_dim=c["embed_dim"] + 1)),
                                r"(?s)model\.safetensors cannot be loaded: .*size mismatch"),
    "config asking for a huge model": (_edit_config(lambda c: c.update(w_dim=4_000_000)),
                                       r"model\.safetensors cannot be loaded: .*size mismatch for mapping_net"),
    "missing checksums": (lambda f: (f / "checksums.json").unlink(), r"checksums\.json is missing"),
    "garbage checksums": (lambda f: _rewrite(f / "checksums.json", lambda b: b"\xff\x00garbage"),
                          r"checksums\.json is not valid JSON"),
    "checksums without weights": (lambda f: _rewrite(f / "checksums.json", lambda b: b"{}"),
                                  r"checksums\.json has no checksum for config\.json"),
    "damaged directions": (lambda f: _rewrite(f / "directions.safetensors", _flip_bit),
                           r"directions\.safetensors is damaged"),
    "pickle instead of safetensors": (_replace_with_pickle, r"checksums\.json has no checksum for model\.safetensors"),
}


@pytest.mark.parametrize("damage, message", DAMAGE.values(), ids=DAMAGE.keys())
def test_damaged_weights_are_refused_naming_the_file(tiny_weights, tmp_path, damage, message):
    folder = tmp_path / "weights"
    shutil.copytree(tiny_weights, folder)
    damage(folder)
    t0 = time.perf_counter()
    with pytest.raises(WeightsError, match=message) as e:
        AvatarStudio.from_pretrained(folder, device="cpu")
    assert time.perf_counter() - t0 < 2.0
    assert str(folder) in str(e.value) or "config.json" in str(e.value)


def test_missing_folder_is_refused(tmp_path):
    with pytest.raises(WeightsError, match=r"no weights folder at"):
        AvatarStudio.from_pretrained(tmp_path / "nothing-here", device="cpu")
    with pytest.raises(WeightsError, match=r"no config\.json in"):
        AvatarStudio.from_pretrained(tmp_path, device="cpu")


def test_hub_repo_id_offline_fails_at_once(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    t0 = time.perf_counter()
    with pytest.raises(WeightsError, match=r"cannot fetch weights 'someone/avatar-weights' from the "
                                           r"Hugging Face Hub .*pass a local weights folder instead"):
        AvatarStudio.from_pretrained("someone/avatar-weights", device="cpu")
    assert time.perf_counter() - t0 < 5.0


def test_no_pickle_path_in_the_runtime_package():
    pattern = re.compile(r"torch\.load|\bpickle\b|\bdill\b|joblib|weights_only\s*=\s*False|\.bin\b|\.pt\b|\.pth\b")
    hits = [f"{path.name}:{n}: {line.strip()}" for path in sorted(PACKAGE.rglob("*.py"))
            for n, line in enumerate(path.read_text().splitlines(), start=1) if pattern.search(line)]
    assert hits == []
    from avatar_studio.weights import HUB_FILES
    assert all(name.endswith((".json", ".safetensors")) for name in HUB_FILES)


def test_checksum_manifest_covers_every_loaded_file(tiny_weights):
    manifest = json.loads((tiny_weights / "checksums.json").read_text())
    assert {"config.json", "model.safetensors", "directions.json", "directions.safetensors"} <= set(manifest)
    assert all(re.fullmatch(r"[0-9a-f]{64}", digest) for digest in manifest.values())

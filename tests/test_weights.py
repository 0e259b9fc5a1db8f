"""The weights-folder format (avatar_studio.weights): shards, their checksums and strict loading;
no loader that bypasses them; older folders converted by train.legacy."""
from __future__ import annotations

import json
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file, save_file

from avatar_studio import AvatarStudio, WeightsError, weights
from avatar_studio.generator import Generator
from train.legacy import convert_folder, fold_templates

SPEC = {"hair": "bob", "hair_color": "#a55728"}


def same(a, b) -> bool:
    return np.array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture()
def sharded(tiny_weights, tmp_path):
    """The tiny weights saved again in shards of at most 100 KB (several files and an index)."""
    folder = tmp_path / "sharded"
    shutil.copytree(tiny_weights, folder)
    weights.save_generator(weights.load_generator(tiny_weights), folder, max_shard_bytes=100 << 10)
    return folder


def test_shards_hold_every_tensor_once_and_load_to_the_same_pixels(studio, sharded):
    shards = sorted(p.name for p in sharded.glob("model-*-of-*.safetensors"))
    assert len(shards) >= 2 and not (sharded / weights.WEIGHTS_FILE).exists()
    assert all((sharded / s).stat().st_size < (100 << 10) + 8192 for s in shards)  # data + a small header
    index = json.loads((sharded / weights.WEIGHTS_INDEX).read_text())["weight_map"]
    assert sorted(set(index.values())) == shards
    manifest = json.loads((sharded / weights.CHECKSUMS_FILE).read_text())
    assert {weights.WEIGHTS_INDEX, *shards} <= set(manifest)
    again = AvatarStudio.from_pretrained(sharded, device="cpu")
    for seed in (0, 9):
        assert same(again.design(SPEC, seed), studio.design(SPEC, seed))


def _index(folder):
    return json.loads((folder / weights.WEIGHTS_INDEX).read_text())


def _write_index(folder, data):
    (folder / weights.WEIGHTS_INDEX).write_text(json.dumps(data))
    weights.write_checksums(folder)


def _move_key(folder):
    data = _index(folder)
    key = next(iter(data["weight_map"]))
    data["weight_map"][key] = sorted(set(data["weight_map"].values()))[-1]
    _write_index(folder, data)


def _drop_from_manifest(folder):
    manifest = json.loads((folder / weights.CHECKSUMS_FILE).read_text())
    manifest.pop(sorted(p.name for p in folder.glob("model-*-of-*.safetensors"))[0])
    (folder / weights.CHECKSUMS_FILE).write_text(json.dumps(manifest))


def _duplicate_tensor(folder):
    first, last = (sorted(folder.glob("model-*-of-*.safetensors"))[i] for i in (0, -1))
    a, b = load_file(first), load_file(last)
    b.update(a)
    save_file(b, last)
    weights.write_checksums(folder)


def _flip(path):
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x10
    path.write_bytes(bytes(data))


SHARD_DAMAGE = {
    "missing shard": (lambda f: sorted(f.glob("model-*.safetensors"))[1].unlink(), r"model-00002-of-\d+\.safetensors is missing"),
    "bit-flipped shard": (lambda f: _flip(sorted(f.glob("model-*.safetensors"))[0]), r"model-00001-of-\d+\.safetensors is damaged"),
    "shard without a checksum": (_drop_from_manifest, r"checksums\.json has no checksum for model-00001"),
    "index that misplaces a tensor": (_move_key, r"index\.json cannot be loaded: its weight_map does not list"),
    "index naming a path outside": (lambda f: _write_index(f, {"weight_map": {"x": "../x.safetensors"}}),
                                    r"index\.json is not a safetensors index"),
    "index not JSON": (lambda f: (f / weights.WEIGHTS_INDEX).write_text("{"), r"index\.json is damaged"),
    "tensor stored twice": (_duplicate_tensor, r"cannot be loaded: .* is stored twice"),
}


@pytest.mark.parametrize("damage, message", SHARD_DAMAGE.values(), ids=SHARD_DAMAGE.keys())
def test_damaged_shards_are_refused_naming_the_file(sharded, damage, message):
    damage(sharded)
    with pytest.raises(WeightsError, match=message):
        AvatarStudio.from_pretrained(sharded, device="cpu")


def test_the_generator_has_no_loader_that_skips_checksums_or_strictness(tiny_weights, tmp_path):
    """The hub mixin's from_pretrained read model.safetensors without checksums and loaded with
    strict=False; the generator is now the architecture only, loaded by avatar_studio.weights."""
    from huggingface_hub import ModelHubMixin
    assert not issubclass(Generator, ModelHubMixin)
    assert not any(hasattr(Generator, name) for name in ("from_pretrained", "save_pretrained", "push_to_hub"))
    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    state = load_file(folder / weights.WEIGHTS_FILE)
    state["extra.weight"] = torch.zeros(1)
    save_file(state, folder / weights.WEIGHTS_FILE)
    with pytest.raises(WeightsError, match=r"model\.safetensors is damaged"):
        weights.load(folder)
    weights.write_checksums(folder)
    with pytest.raises(WeightsError, match=r"Unexpected key\(s\): extra\.weight"):
        weights.load(folder)


def _old_form(folder, tmp_path):
    """The tiny weights as a folder from before avatar-studio@4: templates as one linear map."""
    old = tmp_path / "old"
    shutil.copytree(folder, old)
    config = weights.read_config(old)
    state = load_file(old / weights.WEIGHTS_FILE)
    g = torch.Generator().manual_seed(0)
    state.pop("templates"), state.pop("template_bias")
    width = config.template_channels * config.template_res ** 2
    state["templates.weight"] = torch.randn(width, config.embed_dim * len(config.vocab.categorical), generator=g)
    state["templates.bias"] = torch.randn(width, generator=g)
    save_file(state, old / weights.WEIGHTS_FILE)
    weights.write_checksums(old)
    return old, state, config


def test_an_older_folder_is_refused_at_runtime_and_converted_by_train_legacy(tiny_weights, tmp_path):
    old, state, config = _old_form(tiny_weights, tmp_path)
    with pytest.raises(WeightsError, match=r"an older format: convert it once with python -m train\.legacy"):
        AvatarStudio.from_pretrained(old, device="cpu")
    new = convert_folder(old, tmp_path / "new")
    model = weights.load_generator(new)
    want = fold_templates(state, config)
    assert all(torch.equal(model.state_dict()[k].contiguous(), want[k]) for k in want)
    assert (new / weights.DIRECTIONS_TENSORS).is_file()
    assert AvatarStudio.from_pretrained(new, device="cpu").sliders == ["hat colour", "style 2", "style 3"]


# ---- expression presets come from the model's vocabulary -----------------------------------
def _edit_config(folder, change):
    config = json.loads((folder / weights.CONFIG_FILE).read_text())
    change(config["vocabulary"])
    (folder / weights.CONFIG_FILE).write_text(json.dumps(config))
    weights.write_checksums(folder)


def test_expression_presets_are_the_configs_own(studio, tiny_weights, tmp_path):
    from train import avataaars
    config = json.loads((tiny_weights / weights.CONFIG_FILE).read_text())
    assert [name for name, _ in config["vocabulary"]["expressions"]] == list(studio.expressions)
    assert list(studio.expressions) == list(avataaars.EXPRESSIONS)  # the renderer's presets, in its order
    folder = tmp_path / "w"
    shutil.copytree(tiny_weights, folder)
    _edit_config(folder, lambda v: v.update(expressions=[["smug", {"eyes": "side", "mouth": "smile"}]]))
    assert AvatarStudio.from_pretrained(folder, device="cpu").expressions == {"smug": {"eyes": "side", "mouth": "smile"}}
    _edit_config(folder, lambda v: v.pop("expressions"))
    assert AvatarStudio.from_pretrained(folder, device="cpu").expressions == {}
    _edit_config(folder, lambda v: v.update(expressions={"smug": {"eyes": "smirk"}}))
    with pytest.raises(WeightsError, match=r"expression 'smug' sets eyes to 'smirk', which the vocabulary lacks"):
        AvatarStudio.from_pretrained(folder, device="cpu")


def test_the_runtime_holds_no_preset_table():
    from pathlib import Path
    package = Path(weights.__file__).parent
    assert not [p.name for p in package.glob("*.py") if "raisedExcitedNatural" in p.read_text()]


def test_every_shipped_file_is_under_10_mib():
    """A Space refuses plain-git files over 10 MiB; the generator ships in shards."""
    from pathlib import Path
    root = Path(weights.__file__).resolve().parent.parent
    big = [str(p.relative_to(root)) for p in (root / "weights").rglob("*") if p.is_file() and p.stat().st_size >= 10 << 20]
    assert big == []

"""A studio with two art styles (tiny weights): avataaars (the main folder) and big-smile beside it.

Style selection by spec["style"], one weights folder per style, restyle, and the style carried by
recipes, share codes, PNG recipes, the CLI, sticker packs, variations and morphs.
"""
from __future__ import annotations

import io
import json
import shutil
import zipfile

import numpy as np
import pytest
from PIL import Image

from avatar_studio import AvatarStudio, form as F, pngrecipe as P, weights
from avatar_studio.cli import main as cli_main
from avatar_studio.recipe import parse_recipe

BIG = {"style": "big-smile", "hair": "mohawk", "accessories": "sunglasses", "eyes": "cheery",
       "hair_color": "#A55728", "skin_color": "#edb98a"}


def pixels(image) -> np.ndarray:
    return np.asarray(image.convert("RGBA"))


def test_styles_are_the_folders_with_weights(styled_studio, studio, two_styles):
    assert styled_studio.styles == ["avataaars", "big-smile"]
    assert studio.styles == ["avataaars"]                         # a folder alone: no sibling style folders
    assert AvatarStudio.from_pretrained(two_styles, device="cpu", styles=[]).styles == ["avataaars"]
    big = styled_studio.models["big-smile"]
    assert big.model_id == "tiny-big-smile@1" and big.vocab.style == "big-smile"
    # the vocabulary shipped with the weights records the DiceBear mapping and the identity tags
    vocab = json.loads((two_styles.parent / "big-smile" / "config.json").read_text())["vocabulary"]
    assert vocab["style"] == "big-smile" and vocab["dicebear"]["components"]["hair"] == "hair"
    assert vocab["identity"]["facial_hair_control"] == "accessories" and vocab["credit"]["license"]
    assert "outfit" not in styled_studio.style_controls("big-smile")
    assert "outfit" in styled_studio.style_controls("avataaars")


def test_a_style_folder_is_checked_like_the_main_one(two_styles, tmp_path):
    root = tmp_path / "w"
    shutil.copytree(two_styles, root / "tiny")
    shutil.copytree(two_styles.parent / "big-smile", root / "big-smile")
    with open(root / "big-smile" / weights.WEIGHTS_FILE, "r+b") as f:
        f.seek(-4, 2)
        f.write(b"\0\0\0\0")
    with pytest.raises(weights.WeightsError, match="big-smile.*damaged"):
        AvatarStudio.from_pretrained(root / "tiny", device="cpu")
    # a folder named after another style than its vocabulary's is not a style folder
    shutil.rmtree(root / "big-smile")
    shutil.copytree(two_styles.parent / "big-smile", root / "micah")
    assert AvatarStudio.from_pretrained(root / "tiny", device="cpu").styles == ["avataaars"]


def test_default_style_is_avataaars_byte_for_byte(styled_studio, studio):
    spec = {"hair": "bob", "hair_color": "#a55728"}
    plain = pixels(studio.design(spec, seed=42))
    assert np.array_equal(pixels(styled_studio.design(spec, seed=42)), plain)
    assert np.array_equal(pixels(styled_studio.design({"style": "avataaars", **spec}, seed=42)), plain)
    recipe = {"seed": 42, "spec": spec, "size": 128}
    assert styled_studio.render_png(recipe) == studio.render_png(recipe)
    assert "style" not in styled_studio.full_recipe(recipe).spec      # old recipes stay as they were


def test_designs_in_each_style(styled_studio):
    big = styled_studio.design(BIG, seed=3)
    ava = styled_studio.design({"hair": "bob"}, seed=3)
    assert big.mode == "RGBA" and big.size == ava.size
    assert not np.array_equal(pixels(big), pixels(ava))
    full = styled_studio.resolve(BIG, seed=3)
    assert full["style"] == "big-smile" and full["hair_color"] == "#a55728"
    assert set(full) - {"style"} == set(styled_studio.style_controls("big-smile"))
    batch = styled_studio.design_batch([BIG, {"hair": "bob"}], [3, 3])  # styles mix in one batch
    assert np.array_equal(pixels(batch[0]), pixels(big)) and np.array_equal(pixels(batch[1]), pixels(ava))


@pytest.mark.parametrize("spec, message", [
    ({"style": "cartoon"}, "unknown style 'cartoon'; choose one of: avataaars, big-smile"),
    ({"style": "micah"}, "unknown style 'micah'; choose one of: avataaars, big-smile"),   # no weights: not offered
    ({"style": "big-smile", "outfit": "hoodie"},
     "unknown attribute 'outfit' in style big-smile; choose from: hair, eyes, mouth, accessories, hair_color, skin_color"),
    ({"style": "big-smile", "hair": "bob"}, "unknown hair 'bob'; choose one of: bangs"),
    ({"style": ["big-smile"]}, "unknown style"),
])
def test_bad_styles_and_controls_are_refused(styled_studio, spec, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        styled_studio.design(spec, seed=1)


def test_restyle_keeps_the_person(styled_studio):
    spec = {"hair": "bob", "accessories": "sunglasses", "eyes": "happy", "mouth": "smile",
            "hair_color": "#A55728", "skin_color": "#edb98a", "outfit": "hoodie"}
    out = styled_studio.restyle(spec, "big-smile")
    assert out == {"style": "big-smile", "hair_color": "#a55728", "skin_color": "#edb98a", "hair": "braids",
                   "accessories": "sunglasses", "eyes": "cheery", "mouth": "openedSmile"}
    back = styled_studio.restyle(out, "avataaars")
    assert back["style"] == "avataaars" and back["accessories"] in ("kurt", "sunglasses", "wayfarers")
    assert back["hair_color"] == "#a55728" and back["eyes"] == "happy"
    styled_studio.design(out, seed=5)
    styled_studio.design(back, seed=5)
    with pytest.raises(ValueError, match="unknown style 'micah'; choose one of: avataaars, big-smile"):
        styled_studio.restyle(spec, "micah")
    with pytest.raises(ValueError, match="style big-smile has no control 'outfit'; its controls: hair, eyes, mouth"):
        styled_studio.restyle({"style": "big-smile", "outfit": "hoodie"}, "avataaars")


def test_recipes_share_codes_and_pngs_carry_the_style(styled_studio, studio):
    r = styled_studio.full_recipe({"seed": 9, "spec": BIG, "size": 128})
    assert r.spec["style"] == "big-smile" and r.model == "tiny-big-smile@1"
    text = r.to_json()
    png = styled_studio.render_png(text)
    assert styled_studio.render_png(parse_recipe(text)) == png
    assert styled_studio.render_png(F.from_share_code(F.share_code(text))) == png
    carried = P.recipe_in(P.with_recipe(png, text))
    assert json.loads(carried)["spec"]["style"] == "big-smile" and styled_studio.render_png(carried) == png
    # the recipe names the style's model; the other style's model is refused
    with pytest.raises(ValueError, match="recipe is for model 'tiny@1', but 'tiny-big-smile@1' is loaded for style"):
        styled_studio.check_recipe({**r.to_dict(), "model": "tiny@1"})
    # a studio without that style says which styles it has
    with pytest.raises(ValueError, match="unknown style 'big-smile'; choose one of: avataaars"):
        studio.render_png(text)
    moved = styled_studio.restyle_recipe(r, "avataaars")
    assert "style" not in moved.spec and moved.spec["hair_color"] == "#a55728" and moved.seed == 9
    assert moved.spec["hair"] in ("dreads01", "dreads02", "frizzle", "shaggy", "shaggyMullet", "shortCurly",
                                  "shortFlat", "shortRound", "shortWaved", "sides", "theCaesar",
                                  "theCaesarAndSidePart")


def test_variations_preview_stickers_and_morph_keep_the_style(styled_studio):
    r = {"seed": 4, "spec": BIG, "size": 128}
    variations = styled_studio.variations(r, ["hair", "hair_color"], n=3)
    assert all(v.spec["style"] == "big-smile" and v.spec["hair"] == "mohawk" for v, _ in variations)
    previews = styled_studio.preview(r, "mouth")
    assert [c for c, _ in previews] == styled_studio.style_controls("big-smile")["mouth"]
    with pytest.raises(ValueError, match="unknown attribute 'outfit' to preview"):
        styled_studio.preview(r, "outfit")
    names = zipfile.ZipFile(io.BytesIO(styled_studio.sticker_pack(r))).namelist()
    assert names == [f"{n.replace(' ', '-')}.png" for n in styled_studio.models["big-smile"].vocab.expressions]
    every = zipfile.ZipFile(io.BytesIO(styled_studio.sticker_pack(r, every_style=True))).namelist()
    assert every[:len(names)] == names and "avataaars/happy.png" in every and len(every) > len(names)
    gif = styled_studio.morph(r, {"seed": 5, "spec": {"style": "big-smile"}}, frames=3)
    assert gif[:6] == b"GIF89a"
    with pytest.raises(ValueError, match="recipe A is in style big-smile and recipe B in style avataaars"):
        styled_studio.morph(r, {"seed": 5, "spec": {}}, frames=3)


def test_cli_style_flag(two_styles, tmp_path, capsys):
    recipe = tmp_path / "me.json"
    recipe.write_text(json.dumps({"seed": 2, "spec": {"hair": "bob", "hair_color": "#123456"}, "size": 128}))
    out = tmp_path / "me.png"
    assert cli_main(["design", "--recipe", str(recipe), "--style", "big-smile", "--weights", str(two_styles),
                     "--out", str(out)]) == 0
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert cli_main(["batch", "--spec", '{"hair": "bob", "hair_color": "#123456"}', "--seeds", "2",
                     "--style", "big-smile", "--size", "128", "--weights", str(two_styles), "--out", str(tmp_path / "b")]) == 0
    full = json.loads((tmp_path / "b" / "seed-000002.json").read_text())
    assert full["spec"]["style"] == "big-smile" and full["spec"]["hair_color"] == "#123456"
    assert full["model"] == "tiny-big-smile@1"
    assert (tmp_path / "b" / "seed-000002.png").read_bytes() == out.read_bytes()
    assert cli_main(["design", "--recipe", str(recipe), "--style", "cartoon", "--weights", str(two_styles),
                     "--out", str(out)]) == 2
    assert "unknown style 'cartoon'; choose one of: avataaars, big-smile" in capsys.readouterr().err


def test_benchmark_times_a_style_beside_the_main_weights(two_styles, capsys):
    from benchmarks import design as benchmark_design
    benchmark_design.main(["--weights", str(two_styles), "--n", "3", "--style", "big-smile"])
    r = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert r["style"] == "big-smile" and r["design_ms_median"] > 0 and r["dicebear_resvg_ms_median"] > 0
    benchmark_design.main(["--weights", str(two_styles.parent / "big-smile"), "--n", "3"])  # a style folder alone
    assert json.loads(capsys.readouterr().out.strip().splitlines()[-1])["style"] == "big-smile"


def test_a_style_switch_keeps_the_colours_the_seed_painted(styled_studio):
    """Colours left "any" are the seed's pick in each style's generator: carried as "any", the picker's
    thumbnails showed a blue-haired face with another hair colour in every other style. Carried, they are
    fixed first to the colours the face shows (which paint the same picture in its own style)."""
    r = styled_studio.check_recipe({"seed": 11, "spec": {"hair": "bob"}, "size": 128})
    shown = styled_studio.resolve(r.spec, r.seed)
    pinned = {**r.spec, **{k: shown[k] for k in styled_studio.colors}}
    assert "hair_color" not in r.spec
    pixels = lambda png: np.asarray(Image.open(io.BytesIO(png)), np.int16)  # noqa: E731  (the PNG carries its recipe)
    # the same face: "any" paints a colour between hex steps, and its hex is within one step of it
    assert np.abs(pixels(styled_studio.render_png({**r.to_dict(), "spec": pinned})) - pixels(
        styled_studio.render_png(r))).max() <= 1
    moved = styled_studio.restyle_recipe(r, "big-smile")
    assert moved.spec["hair_color"] == shown["hair_color"] and moved.spec["skin_color"] == shown["skin_color"]
    assert moved.spec == styled_studio.restyle(pinned, "big-smile")
    back = styled_studio.restyle_recipe(r, "avataaars")  # the same style: carried as it is
    assert back.spec == r.spec and "hair_color" not in back.spec
    names = zipfile.ZipFile(io.BytesIO(styled_studio.sticker_pack(r, every_style=True))).namelist()
    first = next(n for n in names if n.startswith("big-smile/"))
    expression = first.split("/", 1)[1][:-4].replace("-", " ")
    with zipfile.ZipFile(io.BytesIO(styled_studio.sticker_pack(r, every_style=True))) as zf:
        sticker = zf.read(first)
    spec = {**moved.spec, **styled_studio.models["big-smile"].vocab.expressions[expression]}
    # the pack carries the painted colours too (its batch of stickers paints within one step of batch 1)
    assert np.abs(pixels(sticker) - pixels(styled_studio.render_png({**moved.to_dict(), "spec": spec}))).max() <= 1

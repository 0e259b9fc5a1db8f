"""DiceBear styles as labelled image sources (train/styles/): vocabularies, renders, packs."""
from __future__ import annotations

import hashlib
import io
import json

import numpy as np
import pytest
from PIL import Image

from train import evaluate, styles
from train.dataset import AvatarSet, read_metadata, read_style
from train.render_dataset import METADATA, RENDER_CONFIG, VOCABULARY, draw_labels, render_dataset

NEW = ("big-smile", "adventurer", "micah")
CONTROLS = ("hair", "outfit", "eyes", "eyebrows", "mouth", "accessories", "facial_hair")


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        assert im.mode == "RGBA"
        return np.asarray(im).copy()


def exact(image: np.ndarray, color: str) -> np.ndarray:
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
    return (image[..., :3].astype(int) == rgb).all(-1) & (image[..., 3] == 255)


def test_avataaars_renders_are_byte_identical_to_before_styles():
    # sha256 of these 20 renders made by train/avataaars.py before it became a view of train.styles
    digest = hashlib.sha256()
    vocab = styles.vocabulary("avataaars")
    for i in range(20):
        labels, hidden = draw_labels(123, i, vocab)
        digest.update(styles.render_png("avataaars", labels, hidden, 64))
    assert digest.hexdigest() == "e23d21f41ff1668dce24d17c83aeff0224873af0c3750fdb0f10586146a4b5d8"


@pytest.mark.parametrize("name", styles.NAMES)
def test_vocabulary_is_dicebears_own_ids_and_records_the_mapping(name):
    vocab = styles.vocabulary(name)
    components = styles.style_definition(name)["components"]
    colors = styles.style_definition(name)["colors"]
    assert vocab["style"] == name
    assert set(vocab["categorical"]) <= set(CONTROLS) and {"hair", "eyes", "mouth", "accessories"} <= set(vocab["categorical"])
    for control, choices in vocab["categorical"].items():
        component = vocab["dicebear"]["components"][control]
        variants = set(components[component]["variants"])
        assert len(choices) == len(set(choices)) >= 2, control
        assert set(choices) - {"none"} <= variants, control
        if "none" in choices:
            assert "probability" in components[component], f"{control}: 'none' for a part that is always drawn"
    for control in vocab["colors"]:
        assert control in ("hair_color", "outfit_color", "skin_color")
        assert vocab["dicebear"]["colors"][control] and all(o in colors for o in vocab["dicebear"]["colors"][control])
    for control, palette in vocab["palettes"].items():
        assert palette and all(len(c) == 7 and c == c.lower() for c in palette), control
    assert set(vocab["unlabelled"]) <= set(vocab["dicebear"]["components"]) | set(vocab["dicebear"]["colors"])
    assert not set(vocab["unlabelled"]) & set(vocab["categorical"])
    credit = vocab["credit"]
    assert credit["text"] == styles.style_definition(name)["meta"]["license"]["text"]
    assert credit["author"] in credit["text"] and credit["license"] in credit["text"]


def test_the_new_styles_lack_only_the_parts_they_do_not_draw():
    assert "outfit" not in styles.vocabulary("big-smile")["categorical"]
    assert "eyebrows" not in styles.vocabulary("big-smile")["categorical"]
    assert "outfit" not in styles.vocabulary("adventurer")["categorical"]
    assert list(styles.vocabulary("micah")["categorical"]) == list(CONTROLS)
    assert styles.vocabulary("adventurer")["categorical"]["facial_hair"] == ["none", "mustache"]
    # a carried-over skin is one every new style was trained on
    skins = {name: set(styles.vocabulary(name)["palettes"]["skin_color"]) for name in styles.NAMES}
    for name in NEW:
        assert set().union(*skins.values()) == skins[name]


def test_unknown_style_is_refused_with_the_choices(tmp_path):
    with pytest.raises(ValueError, match="unknown style 'cartoon'; choose one of: avataaars, big-smile"):
        render_dataset(tmp_path / "x", n=2, size=32, seed=0, workers=1, progress=False, style="cartoon")
    assert not (tmp_path / "x").exists()


@pytest.mark.parametrize("name", NEW)
def test_renders_show_their_labels(name):
    vocab = styles.vocabulary(name)
    for i in range(6):
        labels, hidden = draw_labels(7, i, vocab)
        image = pixels(styles.render_png(name, labels, hidden, 64))
        assert image.shape == (64, 64, 4)
        assert (image[[0, 0, -1, -1], [0, -1, 0, -1], 3] == 0).all(), "transparent corners"
        assert (image[..., 3] == 255).sum() > 600, "an avatar, not an empty canvas"
        assert exact(image, labels["skin_color"]).sum() > 100, "the face takes the skin colour"
        if "outfit_color" in labels:
            assert exact(image, labels["outfit_color"]).sum() > 30, "the outfit takes its colour"
    # hair colour paints the hair, and only the hair
    labels, hidden = draw_labels(7, 0, vocab)
    labels = {**labels, "hair": vocab["categorical"]["hair"][0], "accessories": "none"}
    red = pixels(styles.render_png(name, {**labels, "hair_color": "#ff0000"}, hidden, 64))
    blue = pixels(styles.render_png(name, {**labels, "hair_color": "#0000ff"}, hidden, 64))
    assert exact(red, "#ff0000").sum() > 100 and (exact(red, "#ff0000") == exact(blue, "#0000ff")).all()
    # every control changes the picture
    for control, choices in vocab["categorical"].items():
        drawn = {styles.render_png(name, {**labels, control: c}, hidden, 64) for c in choices}
        assert len(drawn) == len(choices), f"{name} {control}: two choices draw the same picture"


def test_adventurer_details_give_way_to_the_mustache():
    vocab = styles.vocabulary("adventurer")
    labels, hidden = draw_labels(3, 0, vocab)
    mustache = {**labels, "facial_hair": "mustache"}
    assert styles.render_png("adventurer", mustache, {**hidden, "details": "blush"}, 64) == \
        styles.render_png("adventurer", mustache, {**hidden, "details": "none"}, 64)
    plain = {**labels, "facial_hair": "none"}
    assert styles.render_png("adventurer", plain, {**hidden, "details": "blush"}, 64) != \
        styles.render_png("adventurer", plain, {**hidden, "details": "none"}, 64)


@pytest.mark.parametrize("name", NEW)
def test_a_rendered_pack_trains(name, tmp_path):
    pack = render_dataset(tmp_path / name, n=12, size=32, seed=4, workers=1, progress=False, style=name)
    assert json.loads((pack / RENDER_CONFIG).read_text()) == {"style": name, "n": 12, "size": 32, "seed": 4}
    assert json.loads((pack / VOCABULARY).read_text()) == styles.vocabulary(name)
    vocab, rows = read_metadata(pack)
    assert list(vocab.categorical) == list(styles.vocabulary(name)["categorical"]) and len(rows) == 12
    data = AvatarSet(pack, 32)
    assert data.images.shape == (12, 4, 32, 32)
    assert (data.codes is None) == (not styles.vocabulary(name)["unlabelled"])
    row = json.loads((pack / METADATA).read_text().splitlines()[5])
    labels, hidden = draw_labels(4, 5, styles.vocabulary(name))
    assert row == {"file_name": "000005.png", **labels, **hidden}
    # train.evaluate re-renders real avatars in the pack's own style
    assert read_style(pack) == name
    from train.classifier import STYLE_VIEWS, architecture_for
    assert architecture_for(pack).views == STYLE_VIEWS[name] != STYLE_VIEWS["avataaars"]
    other = evaluate.other_hidden(5, style=name)
    assert set(other) == set(styles.vocabulary(name)["unlabelled"])
    image = evaluate.render_image(labels, hidden, 32, style=name)
    assert np.array_equal(np.asarray(image), pixels((pack / "000005.png").read_bytes()))


@pytest.mark.parametrize("name", styles.NAMES)
def test_classifier_views_cover_the_parts_of_each_style(name):
    from train.classifier import STYLE_VIEWS, VIEWS
    vocab = styles.vocabulary(name)
    face, strip = ([round(c * 128) for c in view["box"]] for view in STYLE_VIEWS[name][1:])
    strip_part = "eyebrows" if "eyebrows" in vocab["categorical"] else "eyes"
    for i in range(2):
        labels, hidden = draw_labels(91, i, vocab)
        labels = {**labels, "accessories": "none", **({"facial_hair": "none"} if "facial_hair" in labels else {})}
        for part in ("eyes", "eyebrows", "mouth"):
            if part not in vocab["categorical"]:
                continue
            images = [pixels(styles.render_png(name, {**labels, part: c}, hidden, 128)).astype(int)
                      for c in vocab["categorical"][part]]
            changed = np.zeros((128, 128), bool)
            for image in images[1:]:
                changed |= (np.abs(image - images[0]) > 8).any(-1)
            ys, xs = np.nonzero(changed)
            assert len(ys) > 20, (name, part)
            boxes = [face] + ([strip] if part == strip_part else [])
            for top, left, bottom, right in boxes:
                assert top <= ys.min() and ys.max() < bottom and left <= xs.min() and xs.max() < right, (name, part)
    assert [v["name"] for v in STYLE_VIEWS[name]] == [v["name"] for v in VIEWS]


@pytest.mark.parametrize("name", styles.NAMES)
def test_every_choice_of_every_style_is_named_in_english_and_chinese(name):
    """A 中文 visitor never sees an English choice name (nor a humanised id) in any style's dropdowns,
    its expression presets included; and two choices of one control never share a name."""
    from avatar_studio.labels import Labels, humanize
    labels, vocab = Labels.load(), styles.vocabulary(name)
    for lang in ("en", "zh"):
        table = labels.table[lang]
        for attribute, choices in vocab["categorical"].items():
            assert attribute in table["attributes"], (lang, attribute)
            missing = [c for c in choices if c not in table["choices"].get(attribute, {})
                       and c not in table["choices"]["common"]]
            assert not missing, (name, lang, attribute, missing)
            shown = [labels.choice(lang, attribute, c) for c in choices]
            assert len(set(shown)) == len(shown), (name, lang, attribute, shown)
        assert all(c in table["attributes"] for c in vocab["colors"])
        assert all(p in table["expressions"] for p in vocab["expressions"]), (name, lang)
    for attribute, choices in vocab["categorical"].items():
        for c in choices:
            zh, en = labels.choice("zh", attribute, c), labels.choice("en", attribute, c)
            assert zh != en and zh != humanize(c) and not zh.isascii(), (name, attribute, c, zh)
    assert labels.choice("zh", "hair", "bangs") == "齐刘海" and labels.choice("zh", "eyes", "variant19") == "眼睛 19"

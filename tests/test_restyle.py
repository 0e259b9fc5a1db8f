"""One identity across styles (avatar_studio/styles.py): the mapping tables and restyle()."""
from __future__ import annotations

import itertools
import json
from collections import Counter

import numpy as np
import pytest

from avatar_studio import styles as S
from avatar_studio.attributes import Vocabulary
from train import styles as renderers

# every style's map, read from its vocabulary as a model config stores it (JSON, [key, value] pairs)
MAPS = {name: S.StyleMap.from_vocabulary({**json.loads(json.dumps(Vocabulary.from_dict(v).to_dict())),
                                          "style": v["style"], "identity": v["identity"]})
        for name, v in ((n, renderers.vocabulary(n)) for n in renderers.NAMES)}
PAIRS = list(itertools.permutations(MAPS, 2))


def restyle(spec: dict, style: str) -> dict:
    return S.restyle(spec, style, MAPS)


@pytest.mark.parametrize("name", MAPS)
def test_the_map_is_the_vocabulary_and_every_tag_names_a_choice(name):
    style, vocab = MAPS[name], renderers.vocabulary(name)
    assert style == S.StyleMap.from_vocabulary(json.loads(json.dumps(vocab)))  # the same from vocabulary.json
    assert {k: list(v) for k, v in style.choices.items()} == vocab["categorical"]
    assert list(style.colors) == vocab["colors"] and style.presets == vocab["expressions"]
    hair = [h for members in style.hair.values() for h in members]
    assert sorted(hair) == sorted(style.choices["hair"]), "every hair in exactly one class"
    assert set(style.hair) <= set(S.HAIR_CLASSES)
    assert set(style.glasses) <= {"clear", "dark"} and "clear" in style.glasses
    assert {g for members in style.glasses.values() for g in members} <= set(style.choices["accessories"]) - {"none"}
    assert {f for members in style.facial_hair.values() for f in members} <= set(style.choices[style.facial_hair_control])
    for part, tags in style.moods.items():
        tagged = [c for members in tags.values() for c in members]
        assert len(tagged) == len(set(tagged)) and set(tagged) <= set(style.choices[part]), part
        assert set(tags) <= set(S.MOODS)


@pytest.mark.parametrize("name", MAPS)
def test_each_preset_draws_its_own_mood(name):
    style = MAPS[name]
    assert set(style.expressions) <= set(S.MOODS) and "neutral" in style.expressions
    for feeling, parts in style.expressions.items():
        assert set(parts) == {p for p in S.EXPRESSION_PARTS if p in style.choices}
        assert all(parts[p] in style.choices[p] for p in parts)
        assert S.mood(style, parts) == feeling, (name, feeling)


def random_design(style: S.StyleMap, rng: np.random.Generator) -> dict:
    spec = {"style": style.name}
    spec |= {k: str(rng.choice(choices)) for k, choices in style.choices.items()}
    spec |= {k: "#" + "".join(f"{int(x):02x}" for x in rng.integers(0, 256, 3)) for k in style.colors}
    return spec


def test_identity_survives_every_style_pair():
    """200 random designs x every ordered style pair: colours exact; glasses (and dark lenses), facial hair,
    mood and hair class wherever the target style has them."""
    rng = np.random.default_rng(13)
    carried = Counter()
    for source_name, target_name in PAIRS:
        source, target = MAPS[source_name], MAPS[target_name]
        for _ in range(200):
            spec = random_design(source, rng)
            out = restyle(spec, target_name)
            assert out["style"] == target_name
            body = {k: v for k, v in out.items() if k != "style"}
            S.check_controls(target, body)  # a valid spec of the target style
            for key in target.colors:
                assert out[key] == spec[key] if key in source.colors else key not in out
            worn = S.glasses(source, spec)
            expected = "clear" if worn == "dark" and "dark" not in target.glasses else worn
            assert S.glasses(target, body) == expected, (spec, out)
            carried["glasses"] += 1
            beard = S.facial_hair(source, spec)
            if target.facial_hair_control == "facial_hair" or worn == "off":
                assert (S.facial_hair(target, body) == "off") == (beard == "off"), (spec, out)
                if beard in target.facial_hair:
                    assert S.facial_hair(target, body) == beard
                carried["facial hair"] += 1
            else:  # big-smile: glasses and its mustache share one slot; the glasses stay
                assert S.facial_hair(target, body) == "off"
            feeling = S.mood(source, spec)
            if feeling in target.expressions:
                assert S.mood(target, body) == feeling, (spec, out)
                carried["mood"] += 1
            else:
                assert not {"eyes", "eyebrows", "mouth"} & set(out), "a mood the target lacks: the seed chooses"
            cls = S.hair_class(source, spec)
            if cls in target.hair:
                assert S.hair_class(target, body) == cls
                carried["hair"] += 1
            else:
                assert "hair" not in out
    total = 200 * len(PAIRS)
    assert carried["glasses"] == total
    assert carried["mood"] > 0.6 * total and carried["hair"] > 0.8 * total and carried["facial hair"] > 0.5 * total
    print({k: f"{v}/{total}" for k, v in carried.items()})


def test_same_style_and_partial_specs():
    spec = {"style": "micah", "hair": "pixie", "eyes": "any", "skin_color": "#aabbcc"}
    assert restyle(spec, "micah") == {"style": "micah", "hair": "pixie", "skin_color": "#aabbcc"}
    # only what the spec decides is carried: the rest stays with the seed
    assert restyle({"hair_color": "#102030"}, "adventurer") == {"style": "adventurer", "hair_color": "#102030"}
    assert restyle({}, "big-smile") == {"style": "big-smile"}
    # a style lacking a mood or hair class leaves those parts to the seed
    assert restyle({"eyes": "surprised", "hair": "hat"}, "big-smile") == {"style": "big-smile"}


def test_dark_lenses_and_facial_hair_examples():
    out = restyle({"accessories": "sunglasses", "facial_hair": "beardMedium"}, "adventurer")
    assert out == {"style": "adventurer", "accessories": "variant01", "facial_hair": "mustache"}
    assert restyle({"accessories": "wayfarers"}, "micah")["accessories"] in ("round", "square")
    assert restyle({"accessories": "none", "facial_hair": "moustacheFancy"}, "big-smile")["accessories"] == "mustache"
    assert restyle({"accessories": "round", "facial_hair": "beardLight"}, "big-smile")["accessories"] == "glasses"
    assert restyle({"style": "big-smile", "accessories": "mustache"}, "avataaars") == \
        {"style": "avataaars", "accessories": "none", "facial_hair": "moustacheFancy"}
    assert restyle({"accessories": "eyepatch"}, "micah")["accessories"] == "none"
    # the same id where the target's class has it
    assert restyle({"accessories": "round"}, "micah")["accessories"] == "round"
    assert restyle({"accessories": "sunglasses"}, "big-smile")["accessories"] == "sunglasses"
    assert restyle({"style": "micah", "hair": "turban"}, "avataaars")["hair"] == "turban"
    assert restyle({"style": "micah", "hair": "mrClean"}, "avataaars")["hair"] == "none"


@pytest.mark.parametrize("spec, style, message", [
    ({"hair": "bob"}, "cartoon", "unknown style 'cartoon'; choose one of: avataaars, big-smile, adventurer, micah"),
    ({"style": "toon", "hair": "bob"}, "micah", "unknown style 'toon'; choose one of: avataaars"),
    ({"style": "big-smile", "outfit": "hoodie"}, "micah",
     "style big-smile has no control 'outfit'; its controls: hair, eyes, mouth, accessories, hair_color, skin_color"),
    ({"style": "adventurer", "hair": "bob"}, "micah", "unknown hair 'bob' for style adventurer; choose one of: long01"),
    ("bob", "micah", "spec must be a JSON object"),
])
def test_bad_input_names_the_choices(spec, style, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(")):
        restyle(spec, style)

"""Recipes: parsed and checked once at the boundary, immutable afterwards, design and export apart."""
from __future__ import annotations

import dataclasses

import pytest

from avatar_studio import controls, studio as studio_module
from avatar_studio.attributes import Vocabulary
from avatar_studio.recipe import Design, Export, Recipe, parse_recipe

RECIPE = {"seed": 42, "spec": {"hair": "bob", "hair_color": "#A55728"}, "truncation": 0.8, "size": 256,
          "frame": "circle"}


def test_a_recipe_is_a_design_and_an_export_and_cannot_be_changed_in_place():
    r = parse_recipe(RECIPE)
    assert r.design == Design(42, {"hair": "bob", "hair_color": "#A55728"}, 0.8, {})
    assert r.export == Export(size=256, frame="circle")
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.design.seed = 1
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.export = Export()
    with pytest.raises(TypeError):
        r.spec["hair"] = "bun"
    assert r.to_dict() == {**RECIPE, "sliders": {}, "background": "transparent", "border": "none"}
    assert list(r.to_dict()) == ["seed", "spec", "truncation", "sliders", "size", "background", "frame", "border"]


def test_an_export_checks_itself():
    with pytest.raises(ValueError, match=r"size must be one of 128, 256, 512, 1024, got '300'"):
        Export(size=300)
    with pytest.raises(ValueError, match=r"frame must be one of: none, circle, rounded"):
        parse_recipe({**RECIPE, "frame": "star"}).with_export(size=128)
    with pytest.raises(ValueError, match=r"size must be one of"):
        parse_recipe(RECIPE).with_export(size=100)


def test_a_request_is_parsed_once_and_checked_once(studio, monkeypatch):
    calls = {"parse": 0, "validate": 0, "controls": 0}

    def counting(name, fn):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return fn(*args, **kwargs)
        return wrapper

    monkeypatch.setattr(studio_module, "parse_recipe", counting("parse", studio_module.parse_recipe))
    monkeypatch.setattr(Vocabulary, "validate", counting("validate", Vocabulary.validate))
    monkeypatch.setattr(controls, "check_controls", counting("controls", controls.check_controls))
    r = studio.check_recipe(RECIPE)
    assert calls == {"parse": 1, "validate": 1, "controls": 1}
    assert r.spec == {"hair": "bob", "hair_color": "#a55728"}, "normalised once"
    assert studio.check_recipe(r) is r
    studio.render_png(r), studio.render(r.with_export(size=128)), studio.full_recipe(r), studio.sticker_pack(r)
    studio.variations(r, ["hair"]), studio.preview(r, "eyes"), studio.morph(r, r, frames=2)
    assert calls == {"parse": 1, "validate": 1, "controls": 1}, "a checked recipe is trusted inside"
    studio.render_png(RECIPE)
    assert calls == {"parse": 2, "validate": 2, "controls": 2}, "a dict from outside: once more, once only"


def test_a_copy_made_otherwise_is_checked_again(studio):
    r = studio.check_recipe(RECIPE)
    changed = dataclasses.replace(r, design=dataclasses.replace(r.design, spec={"hair": "bobb"}))
    assert changed.checked_for is None
    with pytest.raises(ValueError, match=r"unknown hair 'bobb'"):
        studio.render_png(changed)
    hand_made = Recipe(Design(1, {}, truncation=7.0))
    with pytest.raises(ValueError, match=r"truncation must be a number from 0.0 to 1.5"):
        studio.render_png(hand_made)
    assert r.with_export(size=128).checked_for == r.checked_for == studio.model_id


def test_sticker_packs_are_the_same_bytes_every_time(studio, monkeypatch):
    import time
    first = studio.sticker_pack(RECIPE)
    real = time.time
    monkeypatch.setattr(time, "time", lambda: real() + 86_400)  # a day later: zip entries carry no clock
    assert studio.sticker_pack(RECIPE) == first

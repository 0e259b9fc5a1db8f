"""The designer's form <-> a recipe, and the undo history of design steps (no gradio here).

The *form* is the list of control values that make a recipe, in ``Form.fields`` order: seed,
creativity, slider directions, every categorical attribute, each colour as ("any" tick,
picker), then the export settings, and last the art style where the studio draws several
(then the attributes and colours are those of every style; a recipe takes the ones its style has). The page only lays these values out; this module says what
they mean, so it is tested without a browser or a server.

    form = Form(studio)
    values, note = form.values_of({"seed": 42, "spec": {"hair": "bob"}})
    form.recipe_of(values)        # {"model": ..., "seed": 42, "spec": {"hair": "bob"}, ...}

A history is a plain dict {"undo": [recipe JSON, ...], "redo": [...], "now": recipe JSON or
None} (it lives in the visitor's page state); ``push``, ``undo`` and ``redo`` return new ones.
"""
from __future__ import annotations

import base64
import dataclasses
import json
import math
import re
import zlib
from typing import TYPE_CHECKING, Any, Sequence

from avatar_studio.attributes import ANY
from avatar_studio.styles import DEFAULT_STYLE
from avatar_studio.recipe import DEFAULTS, MAX_RECIPE_BYTES, Recipe

if TYPE_CHECKING:
    from avatar_studio.studio import AvatarStudio

CUSTOM = "custom"                       # expression value when eyes/eyebrows/mouth match no preset
START = {"seed": 42, "spec": {}}        # the fallback start design (a model without the friendly parts)
FRIENDLY = {"expression": "happy", "facial_hair": "none", "accessories": "none"}   # a first visit's face
SHARE_PREFIX = "1"                      # version of the share code (?r=1<base64url of deflated JSON>)
HISTORY_LIMIT = 50
EMPTY_HISTORY = {"undo": [], "redo": [], "now": None}
BACKGROUNDS = ("transparent", "colour")


# ---- values from the page, checked -----------------------------------------------------------
def text(name: str, value: object) -> str:
    """JSON text from a text box or an API call, at most a recipe's size."""
    if not isinstance(value, str):
        raise ValueError(f"{name} must be JSON text, got {type(value).__name__}")
    if len(value) > MAX_RECIPE_BYTES:
        raise ValueError(f"{name} is too large ({len(value)} characters; at most {MAX_RECIPE_BYTES})")
    return value


def flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {str(value)[:40]!r}")
    return value


def whole(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {str(value)[:40]!r}")
    return int(value)


def picked(index: object, count: int) -> int:
    """The index of a clicked picture in a gallery of ``count``."""
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(f"pick one of the {count} pictures, got index {str(index)[:40]!r}")
    return index


# ---- form <-> recipe ---------------------------------------------------------------------------
class Form:
    """What the controls of a studio's page mean (fields, recipe, expression presets)."""

    def __init__(self, studio: "AvatarStudio"):
        self.studio = studio
        self.styles = studio.styles
        self.main = self.styles[0]                 # the style of the main weights: the sliders are its
        self.multi = len(self.styles) > 1
        # every style's controls, the main style's first (an attribute's choices: the first style's that has it)
        self.attributes = {}
        for style in self.styles:
            vocab = studio.model(style).vocab
            self.attributes.update({a: list(c) for a, c in vocab.categorical.items() if a not in self.attributes})
        self.colors = list(dict.fromkeys(c for style in self.styles for c in studio.model(style).vocab.colors))
        self.sliders = studio.sliders
        self.expressions = studio.expressions
        self.parts = [a for a in self.attributes if any(a in p for p in self.expressions.values())]
        self.names = list(self.attributes) + self.colors
        self.fields = (["seed", "truncation"] + [f"slider:{s}" for s in self.sliders]
                       + [f"attr:{a}" for a in self.attributes]
                       + [f for c in self.colors for f in (f"any:{c}", f"color:{c}")]
                       + ["size", "background", "background_color", "frame", "border", "border_color"]
                       + (["style"] if self.multi else []))

    def style_of(self, values: Sequence[Any]) -> str:
        """The style the form's values are in (the main one on a one-style page)."""
        return dict(zip(self.fields, values)).get("style", self.main) if self.multi else self.main

    def presets(self, style: str) -> dict[str, dict[str, str]]:
        """A style's expression presets."""
        return self.studio.model(style).vocab.expressions

    @property
    def start(self) -> dict:
        """What a fresh page shows: a smiling face without moustache or eyepatch, where the model has them."""
        spec = dict(self.expressions.get(FRIENDLY["expression"], {}))
        spec.update({a: v for a, v in FRIENDLY.items() if v in self.attributes.get(a, [])})
        if self.main != DEFAULT_STYLE:
            spec = {"style": self.main, **spec}
        return {**START, "spec": spec}

    def randomised(self, values: Sequence[Any], seed: int) -> list:
        """Everything to "any" on a new seed (export settings kept): randomise all."""
        return self.reset(values, seed)

    def reset(self, values: Sequence[Any], seed: int | None = None) -> list:
        """Every choice and colour back to "any", sliders to 0 (seed unless given, and export kept)."""
        self.studio.check_recipe(self.recipe_of(values))        # the form as it is must be a good one
        v = dict(zip(self.fields, values))
        v.update({f"attr:{a}": ANY for a in self.attributes})
        v.update({f"any:{c}": True for c in self.colors})
        v.update({f"slider:{s}": 0.0 for s in self.sliders})
        v["truncation"] = 1.0
        if seed is not None:
            v["seed"] = seed
        return [v[f] for f in self.fields]

    def recipe_of(self, values: Sequence[Any]) -> dict:
        """The recipe the controls describe (validated by the studio when it is used)."""
        if len(values) != len(self.fields):
            raise ValueError(f"expected {len(self.fields)} control values, got {len(values)}")
        v = dict(zip(self.fields, values))
        style = self.style_of(values)
        has = self.studio.style_controls(style)                  # (ValueError for a style not on offer)
        spec = {a: v[f"attr:{a}"] for a in self.attributes if a in has and v[f"attr:{a}"] != ANY}
        spec.update({c: v[f"color:{c}"] for c in self.colors if c in has and not flag(f"'any' {c}", v[f"any:{c}"])})
        if style != DEFAULT_STYLE:
            spec = {"style": style, **spec}
        if v["background"] not in BACKGROUNDS:
            raise ValueError(f"background must be one of: {', '.join(BACKGROUNDS)}, got {str(v['background'])[:40]!r}")
        sliders = {s: v[f"slider:{s}"] for s in self.sliders if v[f"slider:{s}"] != 0} if style == self.main else {}
        return {"model": self.studio.model(style).model_id, "seed": v["seed"], "spec": spec,
                "truncation": v["truncation"], "sliders": sliders,
                "size": v["size"], "frame": v["frame"],
                "background": "transparent" if v["background"] == "transparent" else v["background_color"],
                "border": v["border_color"] if flag("border", v["border"]) else "none"}

    def values_of(self, recipe: dict | str | Recipe) -> tuple[list, str | None]:
        """Control values showing a recipe (colours left to "any" show what the seed picks), and
        the studio's version note when it was saved with another version of the model (plain text)."""
        r = self.studio.check_recipe(recipe)
        shown = self.studio.resolve(r.spec, r.seed)
        v = {"seed": r.seed, "truncation": r.truncation, "size": r.size, "frame": r.frame,
             "background": "transparent" if r.background == "transparent" else "colour",
             "background_color": "#ffffff" if r.background == "transparent" else r.background,
             "border": r.border != "none", "border_color": "#ffffff" if r.border == "none" else r.border}
        v.update({f"slider:{s}": r.sliders.get(s, 0.0) for s in self.sliders})
        v.update({f"attr:{a}": r.spec.get(a, ANY) for a in self.attributes})
        v.update({f"any:{c}": c not in r.spec for c in self.colors})
        v.update({f"color:{c}": shown.get(c, "#ffffff") for c in self.colors})  # (white: a colour the style lacks)
        v["style"] = r.spec.get("style", DEFAULT_STYLE)
        return [v[f] for f in self.fields], self.studio.version_note(r)

    def with_choice(self, recipe: dict | str | Recipe, attribute: str, index: object) -> Recipe:
        """The recipe with the ``index``-th choice of a categorical attribute (a preview picked)."""
        if attribute not in self.attributes:
            raise ValueError("show the choices of an attribute first")
        r = self.studio.check_recipe(recipe)
        choices = self.studio.style_controls(r.spec.get("style", DEFAULT_STYLE)).get(attribute, [])
        choice = choices[picked(index, len(choices))]
        return dataclasses.replace(r, design=dataclasses.replace(r.design, spec={**r.spec, attribute: choice}))

    def match_expression(self, spec: dict) -> str:
        """The preset (of the spec's style) whose eyes, eyebrows and mouth the spec has ("any" if none set,
        else "custom")."""
        parts = {p: spec.get(p, ANY) for p in self.parts}
        if all(value == ANY for value in parts.values()):
            return ANY
        for name, preset in self.presets(spec.get("style", DEFAULT_STYLE)).items():
            if parts == {**{p: ANY for p in self.parts}, **preset}:
                return name
        return CUSTOM

    def expression_parts(self, name: object, style: str | None = None) -> list[str] | None:
        """Values of ``self.parts`` for a preset of the style (default: the main one; "any" frees all three);
        None for "custom" (keep them)."""
        if name == CUSTOM:
            return None
        presets = self.presets(style or self.main)
        if name != ANY and name not in presets:
            raise ValueError(f"unknown expression {str(name)[:40]!r}"
                             + (f" in style {style}" if self.multi else "") + f"; choose one of: {', '.join(presets)}")
        preset = presets.get(name, {})
        return [preset.get(p, ANY) for p in self.parts]


# ---- short share links --------------------------------------------------------------------------
def share_code(recipe_json: str) -> str:
    """A short, stable URL-safe code for a recipe (?r=<code>): deflated compact JSON in base64url."""
    recipe = {k: v for k, v in json.loads(recipe_json).items() if DEFAULTS.get(k, ...) != v}   # defaults left out
    compact = json.dumps(recipe, separators=(",", ":"), sort_keys=True).encode("utf-8")
    return SHARE_PREFIX + base64.urlsafe_b64encode(zlib.compress(compact, 9)).decode("ascii").rstrip("=")


def looks_like_share_code(code: object) -> bool:
    return (isinstance(code, str) and code.startswith(SHARE_PREFIX) and len(code) <= MAX_RECIPE_BYTES
            and re.fullmatch(r"[A-Za-z0-9_-]+", code) is not None)


def from_share_code(code: object) -> str:
    """The recipe JSON text of a share code; ValueError when it is not one."""
    if not looks_like_share_code(code):
        raise ValueError("the link's r= code is not an Avatar Studio share code")
    try:
        raw = base64.urlsafe_b64decode(code[1:] + "=" * (-len(code[1:]) % 4))
        d = zlib.decompressobj()
        text = d.decompress(raw, MAX_RECIPE_BYTES + 1)
    except (ValueError, zlib.error):
        raise ValueError("the link's r= code is damaged (copy the whole link)") from None
    if len(text) > MAX_RECIPE_BYTES or d.unconsumed_tail:
        raise ValueError(f"the link's recipe is too large (at most {MAX_RECIPE_BYTES} bytes)")
    return text.decode("utf-8")


# ---- undo history --------------------------------------------------------------------------------
def push(history: dict, recipe_json: str) -> dict:
    """The history after a design step (the same recipe again is no new step: the same dict back)."""
    if history["now"] == recipe_json:
        return history
    undo = history["undo"] + ([history["now"]] if history["now"] is not None else [])
    return {"undo": undo[-HISTORY_LIMIT:], "redo": [], "now": recipe_json}


def undo(history: dict) -> dict | None:
    """One step back, or None when there is none."""
    if not history["undo"]:
        return None
    return {"undo": history["undo"][:-1], "redo": history["redo"] + [history["now"]], "now": history["undo"][-1]}


def redo(history: dict) -> dict | None:
    """One step forward again, or None when there is none."""
    if not history["redo"]:
        return None
    return {"undo": history["undo"] + [history["now"]], "redo": history["redo"][:-1], "now": history["redo"][-1]}

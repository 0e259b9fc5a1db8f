"""Recipes: the full design as one JSON object, shared through files, clipboards and URLs.

    {"model": "avatar-studio@5", "seed": 42, "spec": {"hair": "bob", "hair_color": "#a55728"},
     "truncation": 0.8, "sliders": {"hat colour": 1.5}, "size": 512,
     "background": "transparent", "frame": "circle", "border": "none"}

``spec`` is exactly what ``AvatarStudio.design`` takes and ``seed`` picks the latent
code; both are required. Every other key is optional, with these defaults:
"""
from __future__ import annotations

import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from types import MappingProxyType

from avatar_studio.attributes import parse_color

SEED_RANGE = (0, 2**31 - 1)
SIZES = (128, 256, 512, 1024)
FRAMES = ("none", "circle", "rounded")
MAX_RECIPE_BYTES = 16_384
DEFAULTS = {"truncation": 1.0, "sliders": {}, "size": 512, "background": "transparent",
            "frame": "none", "border": "none"}
__doc__ += "\n    " + json.dumps(DEFAULTS) + "\n\n``model``, when given, must name the loaded model.\n"


@dataclass(frozen=True)
class Design:
    """What the model paints: the seed, the attributes asked for, truncation and sliders.

    ``spec`` and ``sliders`` are read-only mappings; a changed design is a new value
    (``dataclasses.replace``). Spec and sliders are checked against the model by
    ``AvatarStudio.check_recipe`` (their allowed values are the model's)."""
    seed: int
    spec: Mapping[str, str]
    truncation: float = DEFAULTS["truncation"]
    sliders: Mapping[str, float] = field(default_factory=dict)

    def __post_init__(self) -> None:
        object.__setattr__(self, "seed", check_seed(self.seed))
        if not isinstance(self.spec, Mapping):
            raise ValueError(f"spec must be a JSON object like {{\"hair\": \"bob\"}}, got {str(self.spec)[:40]!r}")
        object.__setattr__(self, "spec", MappingProxyType(dict(self.spec)))
        if isinstance(self.sliders, Mapping):
            object.__setattr__(self, "sliders", MappingProxyType(dict(self.sliders)))


@dataclass(frozen=True)
class Export:
    """How the picture is delivered: size, background, frame and border (each checked here)."""
    size: int = DEFAULTS["size"]
    background: str = DEFAULTS["background"]
    frame: str = DEFAULTS["frame"]
    border: str = DEFAULTS["border"]

    def __post_init__(self) -> None:
        object.__setattr__(self, "size", check_size(self.size))
        object.__setattr__(self, "background", check_background(self.background))
        object.__setattr__(self, "frame", check_frame(self.frame))
        object.__setattr__(self, "border", check_border(self.border))


@dataclass(frozen=True)
class Recipe:
    """The whole design: a ``Design`` and an ``Export``, plus the model it was made with.

    Immutable. ``AvatarStudio.check_recipe`` returns a recipe stamped as checked against its
    model; a copy made with ``dataclasses.replace`` loses the stamp (and is checked again),
    ``with_export`` keeps it (an Export checks itself)."""
    design: Design
    export: Export = field(default_factory=Export)
    model: str | None = None
    checked_for: str | None = field(default=None, init=False, compare=False, repr=False)

    # the recipe's fields, read through (the JSON form is flat)
    seed = property(lambda self: self.design.seed)
    spec = property(lambda self: self.design.spec)
    truncation = property(lambda self: self.design.truncation)
    sliders = property(lambda self: self.design.sliders)
    size = property(lambda self: self.export.size)
    background = property(lambda self: self.export.background)
    frame = property(lambda self: self.export.frame)
    border = property(lambda self: self.export.border)

    def with_export(self, **changes) -> "Recipe":
        """The same design, delivered otherwise (e.g. ``size=256``); keeps the checked stamp."""
        out = replace(self, export=replace(self.export, **changes))
        object.__setattr__(out, "checked_for", self.checked_for)
        return out

    def to_dict(self) -> dict:
        """The recipe JSON object: seed, spec, model (when known), truncation, sliders, export."""
        d, e = self.design, self.export
        data = {"seed": d.seed, "spec": dict(d.spec), "model": self.model, "truncation": d.truncation,
                "sliders": dict(d.sliders), "size": e.size, "background": e.background, "frame": e.frame,
                "border": e.border}
        if data["model"] is None:
            del data["model"]
        return data

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), sort_keys=False)


def check_seed(seed: object) -> int:
    lo, hi = SEED_RANGE
    if isinstance(seed, float) and math.isfinite(seed) and seed.is_integer():
        seed = int(seed)
    if isinstance(seed, bool) or not isinstance(seed, int) or not lo <= seed <= hi:
        raise ValueError(f"seed must be a whole number from {lo} to {hi}, got {str(seed)[:40]!r}")
    return seed


def check_size(size: object) -> int:
    if isinstance(size, float) and size.is_integer():
        size = int(size)
    if isinstance(size, bool) or size not in SIZES:
        raise ValueError(f"size must be one of {', '.join(map(str, SIZES))}, got {str(size)[:40]!r}")
    return int(size)


def check_background(value: object) -> str:
    if value == "transparent":
        return value
    try:
        return parse_color("background", value)
    except ValueError:
        raise ValueError(f"background must be 'transparent' or a colour '#rrggbb', got {str(value)[:40]!r}") from None


def check_frame(value: object) -> str:
    if value not in FRAMES:
        raise ValueError(f"frame must be one of: {', '.join(FRAMES)}, got {str(value)[:40]!r}")
    return value


def check_border(value: object) -> str:
    if value == "none":
        return value
    try:
        return parse_color("border", value)
    except ValueError:
        raise ValueError(f"border must be 'none' or a colour '#rrggbb', got {str(value)[:40]!r}") from None


def parse_recipe(data: object) -> Recipe:
    """A recipe from a dict or JSON text; raises ValueError naming the bad field.

    The one parser of the boundary (UI, API, CLI). Spec, truncation and sliders are checked
    against the model by ``AvatarStudio.check_recipe``; this checks the rest.
    """
    if isinstance(data, (str, bytes)):
        if len(data) > MAX_RECIPE_BYTES:
            raise ValueError(f"recipe is too large ({len(data)} bytes; at most {MAX_RECIPE_BYTES})")
        try:
            data = json.loads(data, parse_constant=_reject_constant)
        except RecursionError:      # "[[[[..." deeper than Python's recursion limit
            raise ValueError("recipe is not valid JSON (nested too deeply)") from None
        except ValueError as e:
            raise ValueError(f"recipe is not valid JSON ({e})") from None
    if not isinstance(data, dict):
        raise ValueError("recipe must be a JSON object with at least \"seed\" and \"spec\"")
    known = {"model", "seed", "spec", "truncation", "sliders", "size", "background", "frame", "border"}
    unknown = [k for k in data if k not in known]
    if unknown:
        raise ValueError(f"unknown recipe key {str(unknown[0])[:40]!r}; allowed: {', '.join(sorted(known))}")
    for key in ("seed", "spec"):
        if key not in data:
            raise ValueError(f"recipe needs \"{key}\"")
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError(f"model must be a string like 'name@version', got {str(model)[:40]!r}")
    if not isinstance(data["spec"], dict):
        raise ValueError(f"spec must be a JSON object, got {str(data['spec'])[:40]!r}")
    sliders = data.get("sliders", {})
    return Recipe(
        design=Design(seed=data["seed"], spec=data["spec"], truncation=data.get("truncation", DEFAULTS["truncation"]),
                      sliders={} if sliders is None else sliders),
        export=Export(**{k: data.get(k, DEFAULTS[k]) for k in ("size", "background", "frame", "border")}),
        model=model)


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")

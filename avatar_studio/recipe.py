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
from dataclasses import asdict, dataclass, field

from avatar_studio.attributes import parse_color

SEED_RANGE = (0, 2**31 - 1)
SIZES = (128, 256, 512, 1024)
FRAMES = ("none", "circle", "rounded")
MAX_RECIPE_BYTES = 16_384
DEFAULTS = {"truncation": 1.0, "sliders": {}, "size": 512, "background": "transparent",
            "frame": "none", "border": "none"}
__doc__ += "\n    " + json.dumps(DEFAULTS) + "\n\n``model``, when given, must name the loaded model.\n"


@dataclass
class Recipe:
    seed: int
    spec: dict
    model: str | None = None
    truncation: float = DEFAULTS["truncation"]
    sliders: dict = field(default_factory=dict)
    size: int = DEFAULTS["size"]
    background: str = DEFAULTS["background"]
    frame: str = DEFAULTS["frame"]
    border: str = DEFAULTS["border"]

    def to_dict(self) -> dict:
        data = asdict(self)
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

    Spec and sliders are checked against the model by AvatarStudio; this checks the rest.
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
    return Recipe(
        seed=check_seed(data["seed"]), spec=dict(data["spec"]), model=model,
        truncation=data.get("truncation", DEFAULTS["truncation"]),
        sliders=data.get("sliders", {}) if data.get("sliders") is not None else {},
        size=check_size(data.get("size", DEFAULTS["size"])),
        background=check_background(data.get("background", DEFAULTS["background"])),
        frame=check_frame(data.get("frame", DEFAULTS["frame"])),
        border=check_border(data.get("border", DEFAULTS["border"])),
    )


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")

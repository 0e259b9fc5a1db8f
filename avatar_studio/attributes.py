"""The conditioning vocabulary: UI choices <-> condition tensors, and validation.

A *spec* is what a person asks for: ``{"hair": "bob", "hair_color": "#a55728", ...}``.
Every key is optional; an omitted key (or the value ``"any"``) lets the latent code
choose. Categorical values are the DiceBear variant ids (``"none"`` where the part is
absent); colours are ``"#rrggbb"``.

"any" is resolved from the seed's latent vector ``z`` by fixed slices of it (see
``Vocabulary.z_layout``): argmax over a slice picks a categorical choice uniformly, and
the normal CDF of a slice gives a uniform number for colours. So the same seed always
makes the same choice, whatever else is in the spec or the batch.
"""
from __future__ import annotations

import colorsys
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field

import torch

from avatar_studio.styles import DEFAULT_STYLE

ANY = "any"
_HEX = re.compile(r"#[0-9a-fA-F]{6}")
# the colour wheel the renderer and the "any" prior draw from: hue, saturation, value ranges
WHEEL_SV = (0.25, 1.0)


def _show(value: object, limit: int = 40) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[:limit] + "...'"


def parse_color(field_name: str, value: object) -> str:
    """Validate a "#rrggbb" colour and return it lower-cased."""
    if not isinstance(value, str) or len(value) != 7 or not _HEX.fullmatch(value):
        raise ValueError(f"{field_name} must be a colour like '#a55728' (\"#rrggbb\") or 'any', "
                         f"got {_show(value)}")
    return value.lower()


def hex_to_rgb(color: str) -> tuple[float, float, float]:
    return tuple(int(color[i:i + 2], 16) / 255.0 for i in (1, 3, 5))


def rgb_to_hex(rgb: tuple[float, float, float]) -> str:
    return "#" + "".join(f"{round(min(max(c, 0.0), 1.0) * 255):02x}" for c in rgb)


def wheel_color(u_hue: float, u_sat: float, u_val: float) -> str:
    """A colour of the wheel from three uniform numbers in [0, 1)."""
    lo, hi = WHEEL_SV
    return rgb_to_hex(colorsys.hsv_to_rgb(u_hue, lo + (hi - lo) * u_sat, lo + (hi - lo) * u_val))


@dataclass(frozen=True)
class Vocabulary:
    """Attribute names, their ordered choices and the colour sources (read from data)."""

    categorical: dict[str, list[str]]
    colors: list[str]
    palettes: dict[str, list[str]]
    # where an "any" colour comes from: "palette" and/or "wheel", chosen evenly
    color_sources: dict[str, list[str]] = field(default_factory=dict)
    # named presets of the artwork's style, e.g. "happy" -> {"eyes": "happy", "mouth": "smile"}:
    # one UI choice that sets several attributes (none when the data names none)
    expressions: dict[str, dict[str, str]] = field(default_factory=dict)
    # the artwork behind the choices, recorded by the style's declaration (train/styles/): its DiceBear
    # style name (None in vocabularies made before styles: avataaars), the DiceBear component / colour
    # options behind each control ("dicebear"), the identity tags restyle reads ("identity",
    # avatar_studio.styles.StyleMap) and the artwork's credit line; kept through to_dict / from_dict
    style: str | None = None
    dicebear: dict = field(default_factory=dict)
    identity: dict = field(default_factory=dict)
    credit: dict = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name, parts in self.expressions.items():
            for key, value in parts.items():
                if value not in self.categorical.get(key, ()):
                    raise ValueError(f"expression {name!r} sets {key} to {value!r}, which the vocabulary lacks")

    @classmethod
    def from_dict(cls, data: dict) -> "Vocabulary":
        """From vocabulary.json (categorical and expressions as objects) or a model config (as [name, value]
        pairs)."""
        categorical = data["categorical"]
        return cls(categorical={str(k): list(v) for k, v in _pairs(categorical)},
                   colors=list(data["colors"]),
                   palettes={k: list(v) for k, v in data.get("palettes", {}).items()},
                   color_sources={k: list(v) for k, v in data["color_sources"].items()},
                   expressions={str(k): dict(v) for k, v in _pairs(data.get("expressions", {}))},
                   style=data.get("style"), dicebear=dict(data.get("dicebear", {})),
                   identity=dict(data.get("identity", {})), credit=dict(data.get("credit", {})))

    def to_dict(self) -> dict:
        """JSON-ready; categorical and expressions as ordered [name, value] pairs, since the order is part
        of the model (and of the menu) and JSON writers may sort object keys."""
        presets = [[k, v] for k, v in self.expressions.items()]
        artwork = {"style": self.style, "dicebear": self.dicebear, "identity": self.identity, "credit": self.credit}
        return {**self.conditioning(), **({"expressions": presets} if presets else {}),
                **{k: v for k, v in artwork.items() if v}}  # (none in a vocabulary made before styles)

    @property
    def style_name(self) -> str:
        """The DiceBear style the choices are ids of."""
        return self.style or DEFAULT_STYLE

    def conditioning(self) -> dict:
        """``to_dict`` without the presets: what a model conditioned on this vocabulary reads."""
        return {"categorical": [[k, v] for k, v in self.categorical.items()], "colors": self.colors,
                "palettes": self.palettes, "color_sources": self.color_sources}

    @property
    def names(self) -> list[str]:
        return list(self.categorical) + list(self.colors)

    # ---- validation -------------------------------------------------------------------
    def validate(self, spec: object) -> dict[str, str]:
        """Check a spec; return it normalised (lower-case colours, "any" keys dropped)."""
        if not isinstance(spec, Mapping):
            raise ValueError(f"spec must be a JSON object like {{\"hair\": \"bob\"}}, got {_show(spec)}")
        clean: dict[str, str] = {}
        for key, value in spec.items():
            if key in self.categorical:
                choices = self.categorical[key]
                if value == ANY:
                    continue
                if not isinstance(value, str) or value not in choices:
                    raise ValueError(f"unknown {key} {_show(value)}; choose one of: "
                                     f"{', '.join(choices)} (or 'any')")
                clean[key] = value
            elif key in self.colors:
                if value == ANY:
                    continue
                clean[key] = parse_color(key, value)
            else:
                style = "" if self.style_name == DEFAULT_STYLE else f" in style {self.style_name}"
                raise ValueError(f"unknown attribute {_show(key)}{style}; choose from: {', '.join(self.names)}")
        return clean

    # ---- "any" from the latent code ----------------------------------------------------
    def z_layout(self) -> dict[str, tuple[int, int]]:
        """Slices of z (start, stop) that resolve each attribute left as "any"."""
        layout, start = {}, 0
        for name, choices in self.categorical.items():
            layout[name] = (start, start + len(choices))
            start += len(choices)
        for name in self.colors:
            width = 1 + len(self.palettes.get(name, [])) + 3  # source, palette pick, wheel hsv
            layout[name] = (start, start + width)
            start += width
        return layout

    @property
    def z_size(self) -> int:
        return max(stop for _, stop in self.z_layout().values())

    def resolve(self, spec: dict[str, str], z: torch.Tensor) -> dict[str, str]:
        """Fill every attribute the (validated) spec leaves open from the latent vector z (1-D)."""
        full = {}
        for name, (start, stop) in self.z_layout().items():
            if name in spec:
                full[name] = spec[name]
                continue
            part = z[start:stop]
            if name in self.categorical:
                full[name] = self.categorical[name][int(torch.argmax(part))]
                continue
            sources = self.color_sources[name]
            source = sources[min(int(_uniform(part[0]) * len(sources)), len(sources) - 1)]
            palette = self.palettes.get(name, [])
            if source == "palette":
                full[name] = palette[int(torch.argmax(part[1:1 + len(palette)]))]
            else:
                full[name] = wheel_color(*(_uniform(v) for v in part[-3:]))
        return full

    # ---- tensors ----------------------------------------------------------------------
    def encode(self, specs: list[dict[str, str]]) -> tuple[torch.Tensor, torch.Tensor]:
        """Fully resolved specs -> (choice indices (B, A) long, colours (B, C, 3) float in [0, 1])."""
        index = torch.tensor([[self.categorical[n].index(s[n]) for n in self.categorical] for s in specs],
                             dtype=torch.long).view(len(specs), len(self.categorical))
        rgb = torch.tensor([[hex_to_rgb(s[n]) for n in self.colors] for s in specs],
                           dtype=torch.float32).view(len(specs), len(self.colors), 3)
        return index, rgb


def _pairs(data: dict | list) -> list:
    """An object's items, or a list of [name, value] pairs as they are."""
    return list(data.items()) if isinstance(data, dict) else data


def _uniform(x: torch.Tensor) -> float:
    """Standard normal sample -> uniform in [0, 1)."""
    return min(0.5 * (1.0 + math.erf(float(x) / math.sqrt(2.0))), 1.0 - 1e-9)

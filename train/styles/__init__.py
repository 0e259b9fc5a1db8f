"""DiceBear styles as labelled image sources: one engine here, one small declaration per style.

A style declaration (``train/styles/<style>.py``) says which DiceBear component each control
draws from (``Part``), which DiceBear colour options each colour control paints, where an
"any" colour comes from, and which parts no user picks (``"unlabelled"``: left for the
generator's style codes). This module turns a declaration into

- its vocabulary (``vocabulary(name)``: the dict written to ``vocabulary.json``; besides the
  choices it records each control's DiceBear component / colour options and the artwork's credit),
- DiceBear options and a rendered RGBA PNG (``render_png(name, labels, hidden, size)``).

Every option DiceBear would otherwise draw at random is set explicitly, so the labels plus
the unlabelled choices fix the picture. Choice ids are DiceBear's own variant ids, plus
``"none"`` where a part is optional (probability 0).

Example:
    from train import styles
    vocab = styles.vocabulary("big-smile")
    png = styles.render_png("big-smile", labels, hidden, 128)
"""
from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from functools import lru_cache
from importlib import resources

import resvg_py
from dicebear import Avatar, Style

NONE = "none"
# style name -> module of train/styles holding its declaration
MODULES = {"avataaars": "avataaars", "big-smile": "big_smile", "adventurer": "adventurer", "micah": "micah"}
NAMES = tuple(MODULES)


@dataclass(frozen=True)
class Part:
    """A choice among a DiceBear component's variants."""

    component: str
    none: str = ""                # "first" / "last": a "none" choice (the part hidden) at that end
    only: tuple[str, ...] = ()    # a subset of the component's variants (default: all of them)


@dataclass(frozen=True)
class Colour:
    """An unlabelled colour: a choice among a DiceBear colour option's palette."""

    option: str


def _v(*numbers: int) -> tuple[str, ...]:
    """DiceBear's numbered variant ids: _v(1, 2) -> ("variant01", "variant02")."""
    return tuple(f"variant{n:02d}" for n in numbers)


@dataclass(frozen=True)
class Declaration:
    """How one DiceBear style maps onto our controls, and the identity tags that carry a person
    between styles (read by avatar_studio/styles.py from the vocabulary, see its docstring)."""

    name: str
    categorical: dict[str, Part]
    colors: dict[str, tuple[str, ...]]       # colour control -> DiceBear colour options it paints
    palettes: dict[str, tuple[str, ...]]     # colour control -> DiceBear colour options whose values
    #                                          make its palette (in order, duplicates dropped);
    #                                          "style/option" names another style's option
    color_sources: dict[str, list[str]]      # where an "any" colour is drawn from ("palette"/"wheel")
    unlabelled: dict[str, Part | Colour] = field(default_factory=dict)
    hair: dict[str, tuple[str, ...]] = field(default_factory=dict)          # hair class -> hair choices
    glasses: dict[str, tuple[str, ...]] = field(default_factory=dict)       # "clear"/"dark" -> accessories
    facial_hair: dict[str, tuple[str, ...]] = field(default_factory=dict)   # "beard"/"moustache" -> choices
    facial_hair_control: str = "facial_hair"   # or "accessories" where facial hair shares that slot
    moods: dict[str, dict[str, tuple[str, ...]]] = field(default_factory=dict)  # part -> mood -> choices
    presets: dict[str, dict[str, str]] = field(default_factory=dict)  # expression presets: name -> parts


@lru_cache(maxsize=None)
def declaration(name: str) -> Declaration:
    if name not in MODULES:
        raise ValueError(f"unknown style {name!r}; choose one of: {', '.join(NAMES)}")
    return importlib.import_module(f"train.styles.{MODULES[name]}").DECLARATION


@lru_cache(maxsize=None)
def style_definition(name: str) -> dict:
    return json.loads(resources.files("dicebear_styles").joinpath(f"{name}.json").read_text())


@lru_cache(maxsize=None)
def dicebear_style(name: str) -> Style:
    return Style(style_definition(name))


def credit(name: str) -> dict:
    """The artwork's credit line and its parts, as the style file's meta states them."""
    meta = style_definition(name)["meta"]
    return {"text": meta["license"]["text"], "license": meta["license"]["name"],
            "license_url": meta["license"]["url"], "author": meta["creator"]["name"],
            "author_url": meta["creator"].get("url", ""), "source": meta["source"]["name"],
            "source_url": meta["source"]["url"]}


def license_text(name: str) -> str:
    return credit(name)["text"]


def choices(name: str, part: Part) -> list[str]:
    variants = list(style_definition(name)["components"][part.component]["variants"])
    if part.only:
        unknown = sorted(set(part.only) - set(variants))
        if unknown:
            raise ValueError(f"{name}: {part.component} has no variants {unknown}")
        variants = [v for v in variants if v in part.only]
    return [NONE] + variants if part.none == "first" else variants + [NONE] if part.none == "last" else variants


def palette(name: str, options: tuple[str, ...]) -> list[str]:
    """The values of these DiceBear colour options ("option" of this style or "style/option"),
    in order, lower-cased, duplicates dropped."""
    values = []
    for option in options:
        style, _, option = option.rpartition("/")
        values += [c.lower() for c in style_definition(style or name)["colors"][option]["values"]]
    return list(dict.fromkeys(values))


def vocabulary(name: str) -> dict:
    """Attribute -> ordered choices, colour palettes, unlabelled choices, DiceBear mapping and credit."""
    d = declaration(name)
    unlabelled = {key: (palette(name, (u.option,)) if isinstance(u, Colour) else choices(name, u))
                  for key, u in d.unlabelled.items()}
    # which DiceBear component each choice and which DiceBear colour options each colour sets
    dicebear = {"components": {key: part.component for key, part in d.categorical.items()},
                "colors": {key: list(options) for key, options in d.colors.items()}}
    for key, u in d.unlabelled.items():
        if isinstance(u, Colour):
            dicebear["colors"][key] = [u.option]
        else:
            dicebear["components"][key] = u.component
    categorical = {key: choices(name, part) for key, part in d.categorical.items()}
    return {
        "style": name,
        "categorical": categorical,
        "colors": list(d.colors),
        "palettes": {key: palette(name, options) for key, options in d.palettes.items()},
        "color_sources": {key: list(v) for key, v in d.color_sources.items()},
        # presets the UI offers: one choice sets eyes + eyebrows + mouth
        "expressions": {preset: parts for preset, parts in d.presets.items()
                        if all(value in categorical.get(key, ()) for key, value in parts.items())},
        "unlabelled": unlabelled,
        "dicebear": dicebear,
        "credit": credit(name),
        # what restyle carries between styles (avatar_studio.styles.StyleMap.from_vocabulary)
        "identity": {"hair": _lists(d.hair), "glasses": _lists(d.glasses), "facial_hair": _lists(d.facial_hair),
                     "facial_hair_control": d.facial_hair_control,
                     "moods": {part: _lists(tags) for part, tags in d.moods.items()}},
    }


def _lists(table: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    return {key: list(values) for key, values in table.items()}


def _set_part(options: dict, part: Part, value: str, always_probability: bool) -> None:
    if value == NONE:
        options[f"{part.component}Probability"] = 0
        return
    options[f"{part.component}Variant"] = {value: 1}
    if always_probability or part.none:
        options[f"{part.component}Probability"] = 100


def dicebear_options(name: str, labels: dict, hidden: dict) -> dict:
    """DiceBear options for one avatar; ``hidden`` holds the unlabelled choices.

    An unlabelled part that shares its component with a labelled part (adventurer's "details":
    a mustache is facial hair, blush and freckles are not) is drawn only where the labelled
    part is "none".
    """
    d = declaration(name)
    options: dict = {"seed": "avatar-studio"}
    shown = set()
    for key, part in d.categorical.items():
        _set_part(options, part, labels[key], always_probability=True)
        if labels[key] != NONE:
            shown.add(part.component)
    for key, targets in d.colors.items():
        for option in targets:
            options[f"{option}Color"] = [labels[key]]
    for key, u in d.unlabelled.items():
        if isinstance(u, Colour):
            options[f"{u.option}Color"] = [hidden[key]]
        elif u.component not in shown:
            _set_part(options, u, hidden[key], always_probability=False)
    return options


def render_svg(name: str, labels: dict, hidden: dict) -> str:
    return Avatar(dicebear_style(name), dicebear_options(name, labels, hidden)).to_string()


def render_png(name: str, labels: dict, hidden: dict, size: int) -> bytes:
    """Render one avatar as RGBA PNG bytes (transparent background)."""
    svg = render_svg(name, labels, hidden)
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size))

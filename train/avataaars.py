"""The DiceBear "avataaars" style as a labelled image source.

Maps our attribute names (the public contract) onto DiceBear options, and renders
one fully specified avatar to PNG bytes with resvg. Every option that DiceBear
would otherwise draw at random is set explicitly, so a label set plus the three
unlabelled choices (hat colour, accessory colour, clothes graphic) fix the picture.
"""
from __future__ import annotations

import json
from functools import lru_cache
from importlib import resources

import resvg_py
from dicebear import Avatar, Style

STYLE_NAME = "avataaars"

# our attribute -> DiceBear component, and where "none" means the part is absent
CATEGORICAL = {
    "hair": "top",
    "outfit": "clothes",
    "eyes": "eyes",
    "eyebrows": "eyebrows",
    "mouth": "mouth",
    "accessories": "accessories",
    "facial_hair": "facialHair",
}
NONE = "none"
COLORS = ("hair_color", "outfit_color", "skin_color")


# Expression presets in this style's ids; vocabulary.json carries them to the model's config,
# from which the app builds its expression menu.
EXPRESSIONS: dict[str, dict[str, str]] = {
    "happy": {"eyes": "happy", "eyebrows": "raisedExcitedNatural", "mouth": "smile"},
    "sad": {"eyes": "cry", "eyebrows": "sadConcernedNatural", "mouth": "sad"},
    "surprised": {"eyes": "surprised", "eyebrows": "raisedExcited", "mouth": "screamOpen"},
    "angry": {"eyes": "squint", "eyebrows": "angryNatural", "mouth": "serious"},
    "wink": {"eyes": "wink", "eyebrows": "defaultNatural", "mouth": "twinkle"},
    "in love": {"eyes": "hearts", "eyebrows": "raisedExcitedNatural", "mouth": "smile"},
    "sleepy": {"eyes": "closed", "eyebrows": "defaultNatural", "mouth": "default"},
    "dizzy": {"eyes": "xDizzy", "eyebrows": "upDownNatural", "mouth": "disbelief"},
    "neutral": {"eyes": "default", "eyebrows": "defaultNatural", "mouth": "default"},
    "silly": {"eyes": "winkWacky", "eyebrows": "upDown", "mouth": "tongue"},
    "worried": {"eyes": "side", "eyebrows": "sadConcerned", "mouth": "concerned"},
    "eye roll": {"eyes": "eyeRoll", "eyebrows": "flatNatural", "mouth": "serious"},
    "grossed out": {"eyes": "squint", "eyebrows": "frownNatural", "mouth": "vomit"},
}


@lru_cache(maxsize=1)
def style_definition() -> dict:
    return json.loads(resources.files("dicebear_styles").joinpath(f"{STYLE_NAME}.json").read_text())


@lru_cache(maxsize=1)
def style() -> Style:
    return Style(style_definition())


def license_text() -> str:
    return style_definition()["meta"]["license"]["text"]


def vocabulary() -> dict:
    """Attribute -> ordered choices, plus the colour palettes of the style."""
    components = style_definition()["components"]
    colors = style_definition()["colors"]

    def variants(component: str) -> list[str]:
        return list(components[component]["variants"])

    categorical = {
        "hair": variants("top") + [NONE],
        "outfit": variants("clothes"),
        "eyes": variants("eyes"),
        "eyebrows": variants("eyebrows"),
        "mouth": variants("mouth"),
        "accessories": [NONE] + variants("accessories"),
        "facial_hair": [NONE] + variants("facialHair"),
    }
    return {
        "style": STYLE_NAME,
        "categorical": categorical,
        "colors": list(COLORS),
        "palettes": {
            "hair_color": list(colors["hair"]["values"]),
            "skin_color": list(colors["skin"]["values"]),
        },
        # where a colour is drawn from (evenly between the sources listed)
        "color_sources": {
            "hair_color": ["palette", "wheel"],
            "outfit_color": ["wheel"],
            "skin_color": ["palette"],
        },
        # presets the UI offers: one choice sets eyes + eyebrows + mouth
        "expressions": {name: parts for name, parts in EXPRESSIONS.items()
                        if all(value in categorical[key] for key, value in parts.items())},
        # never labelled: left for the generator's latent code
        "unlabelled": {
            "hat_color": list(colors["hat"]["values"]),
            "accessories_color": list(colors["accessories"]["values"]),
            "clothes_graphic": variants("clothesGraphic"),
        },
    }


def dicebear_options(labels: dict, hidden: dict) -> dict:
    """DiceBear options for one avatar; ``hidden`` holds the unlabelled choices."""
    options: dict = {"seed": "avatar-studio"}
    for attribute, component in CATEGORICAL.items():
        value = labels[attribute]
        if value == NONE:
            options[f"{component}Probability"] = 0
        else:
            options[f"{component}Variant"] = {value: 1}
            options[f"{component}Probability"] = 100
    options["hairColor"] = [labels["hair_color"]]
    options["facialHairColor"] = [labels["hair_color"]]
    options["clothesColor"] = [labels["outfit_color"]]
    options["skinColor"] = [labels["skin_color"]]
    options["hatColor"] = [hidden["hat_color"]]
    options["accessoriesColor"] = [hidden["accessories_color"]]
    options["clothesGraphicVariant"] = {hidden["clothes_graphic"]: 1}
    return options


def render_png(labels: dict, hidden: dict, size: int) -> bytes:
    """Render one avatar as RGBA PNG bytes (transparent background)."""
    svg = Avatar(style(), dicebear_options(labels, hidden)).to_string()
    return bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size))

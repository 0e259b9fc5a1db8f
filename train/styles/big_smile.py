"""DiceBear "big-smile" (Ashley Seo, CC BY 4.0): a round face, no outfit, no eyebrows.

Glasses and the mustache are variants of its one "accessories" slot (so an avatar wears one
of them at most). Every part is labelled: nothing is left for style codes.
"""
from train.styles import Declaration, Part

# own skins first, then the other styles' (a skin carried over from another style is then one
# the generator has seen)
SKINS = ("skin", "avataaars/skin", "adventurer/skin", "micah/base")

DECLARATION = Declaration(
    name="big-smile",
    categorical={
        "hair": Part("hair"),
        "eyes": Part("eyes"),
        "mouth": Part("mouth"),
        "accessories": Part("accessories", none="first"),
    },
    colors={"hair_color": ("hair",), "skin_color": ("skin",)},
    palettes={"hair_color": ("hair",), "skin_color": SKINS},
    color_sources={"hair_color": ["palette", "wheel"], "skin_color": ["palette"]},
    hair={"bald": ("shavedHead",),
          "short": ("bowlCutHair", "curlyShortHair", "halfShavedHead", "mohawk", "shortHair"),
          "long": ("bangs", "braids", "curlyBob", "straightHair", "wavyBob"),
          "updo": ("bunHair", "froBun")},
    glasses={"clear": ("glasses",), "dark": ("sunglasses",)},
    facial_hair={"moustache": ("mustache",)},
    facial_hair_control="accessories",
    moods={"eyes": {"angry": ("angry",), "happy": ("cheery",), "sad": ("sad",), "sleepy": ("sleepy",),
                    "in love": ("starstruck",), "wink": ("winking",)},
           "mouth": {"happy": ("braces", "gapSmile", "kawaii", "openedSmile", "teethSmile"), "sad": ("openSad",)}},
    presets={
        "happy": {"eyes": "cheery", "mouth": "openedSmile"},
        "sad": {"eyes": "sad", "mouth": "openSad"},
        "angry": {"eyes": "angry", "mouth": "unimpressed"},
        "wink": {"eyes": "winking", "mouth": "teethSmile"},
        "in love": {"eyes": "starstruck", "mouth": "kawaii"},
        "sleepy": {"eyes": "sleepy", "mouth": "unimpressed"},
        "neutral": {"eyes": "normal", "mouth": "awkwardSmile"},
    },
)

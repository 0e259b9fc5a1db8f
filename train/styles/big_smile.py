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
)

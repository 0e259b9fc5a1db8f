"""DiceBear "adventurer" (Lisa Wischofsky, CC BY 4.0): a head-and-hair style, no outfit.

Its glasses component is our "accessories". Facial hair is its "details" component's mustache;
the other details (birthmark, blush, freckles) and the earrings are unlabelled, and a detail is
drawn only where there is no mustache (one component, one variant).
"""
from train.styles import Declaration, Part

SKINS = ("skin", "avataaars/skin", "big-smile/skin", "micah/base")

DECLARATION = Declaration(
    name="adventurer",
    categorical={
        "hair": Part("hair"),
        "eyes": Part("eyes"),
        "eyebrows": Part("eyebrows"),
        "mouth": Part("mouth"),
        "accessories": Part("glasses", none="first"),
        "facial_hair": Part("details", none="first", only=("mustache",)),
    },
    colors={"hair_color": ("hair",), "skin_color": ("skin",)},
    palettes={"hair_color": ("hair",), "skin_color": SKINS},
    color_sources={"hair_color": ["palette", "wheel"], "skin_color": ["palette"]},
    unlabelled={"details": Part("details", none="first", only=("birthmark", "blush", "freckles")),
                "earrings": Part("earrings", none="first")},
)

"""DiceBear "avataaars" (Pablo Stanley): the style of the first generator; its vocabulary and
renders must not change (the shipped weights were trained on them)."""
from train.styles import Colour, Declaration, Part

DECLARATION = Declaration(
    name="avataaars",
    categorical={
        "hair": Part("top", none="last"),
        "outfit": Part("clothes"),
        "eyes": Part("eyes"),
        "eyebrows": Part("eyebrows"),
        "mouth": Part("mouth"),
        "accessories": Part("accessories", none="first"),
        "facial_hair": Part("facialHair", none="first"),
    },
    colors={"hair_color": ("hair", "facialHair"), "outfit_color": ("clothes",), "skin_color": ("skin",)},
    palettes={"hair_color": ("hair",), "skin_color": ("skin",)},
    color_sources={"hair_color": ["palette", "wheel"], "outfit_color": ["wheel"], "skin_color": ["palette"]},
    unlabelled={"hat_color": Colour("hat"), "accessories_color": Colour("accessories"),
                "clothes_graphic": Part("clothesGraphic")},
)

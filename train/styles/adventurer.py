"""DiceBear "adventurer" (Lisa Wischofsky, CC BY 4.0): a head-and-hair style, no outfit.

Its glasses component is our "accessories". Facial hair is its "details" component's mustache;
the other details (birthmark, blush, freckles) and the earrings are unlabelled, and a detail is
drawn only where there is no mustache (one component, one variant).
"""
from train.styles import _v, Declaration, Part

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
    hair={"bald": ("short19",),
          "short": tuple(f"short{n:02d}" for n in range(1, 19)),
          "long": tuple(f"long{n:02d}" for n in (1, 2, 3, 4, 5, 6, 7, 8, 9, 14, 15, 16, 17, 18, 19, 20, 21, 22,
                                                 24, 25, 26)),
          "updo": ("long10", "long11", "long12", "long13", "long23")},
    glasses={"clear": _v(2, 3, 4, 5), "dark": _v(1)},
    facial_hair={"moustache": ("mustache",)},
    facial_hair_control="facial_hair",
    moods={"eyes": {"sleepy": _v(4, 18, 20), "dizzy": _v(8, 9), "angry": _v(14), "sad": _v(15, 16),
                    "happy": _v(19), "wink": _v(21, 22), "in love": _v(23), "surprised": _v(24, 25, 26)},
           "mouth": {"happy": _v(1, 2, 5, 16, 19, 20, 23, 24, 25, 26, 27, 28, 29), "surprised": _v(3, 7, 15, 18, 30),
                     "sad": _v(4, 14), "angry": _v(11), "in love": _v(17)},
           "eyebrows": {"angry": _v(1, 2), "sad": _v(7)}},
    presets={
        "happy": {"eyes": "variant19", "eyebrows": "variant10", "mouth": "variant01"},
        "sad": {"eyes": "variant15", "eyebrows": "variant07", "mouth": "variant04"},
        "surprised": {"eyes": "variant24", "eyebrows": "variant06", "mouth": "variant15"},
        "angry": {"eyes": "variant14", "eyebrows": "variant01", "mouth": "variant11"},
        "wink": {"eyes": "variant21", "eyebrows": "variant10", "mouth": "variant23"},
        "in love": {"eyes": "variant23", "eyebrows": "variant10", "mouth": "variant17"},
        "sleepy": {"eyes": "variant20", "eyebrows": "variant10", "mouth": "variant09"},
        "dizzy": {"eyes": "variant08", "eyebrows": "variant03", "mouth": "variant13"},
        "neutral": {"eyes": "variant01", "eyebrows": "variant10", "mouth": "variant09"},
    },
)

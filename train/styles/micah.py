"""DiceBear "micah" (Micah Lanier, CC BY 4.0): of micah, personas and lorelei the one with every
control of ours: hair, outfit (clothes), eyes, eyebrows, mouth, glasses and facial hair as
separate components, and hair, outfit (shirt) and skin (base) colours that take any hex.
(personas has no eyebrows and draws glasses as eye variants; lorelei has no outfit and is
drawn in black ink only.) Facial hair takes the hair colour, as in avataaars.
"""
from train.styles import NONE, Colour, Declaration, Part

SKINS = ("base", "avataaars/skin", "big-smile/skin", "adventurer/skin")

DECLARATION = Declaration(
    name="micah",
    categorical={
        "hair": Part("hair", none="last"),
        "outfit": Part("clothes"),
        "eyes": Part("eyes"),
        "eyebrows": Part("eyebrows"),
        "mouth": Part("mouth"),
        "accessories": Part("glasses", none="first"),
        "facial_hair": Part("facialHair", none="first"),
    },
    colors={"hair_color": ("hair", "facialHair"), "outfit_color": ("shirt",), "skin_color": ("base",)},
    palettes={"hair_color": ("hair",), "skin_color": SKINS},
    color_sources={"hair_color": ["palette", "wheel"], "outfit_color": ["wheel"], "skin_color": ["palette"]},
    unlabelled={"glasses_color": Colour("glasses"), "earrings": Part("earrings", none="first"),
                "earring_color": Colour("earring"), "eye_shadow_color": Colour("eyeShadow"),
                "ears": Part("ears"), "nose": Part("nose")},
    hair={"bald": ("dougFunny", "mrClean", NONE), "short": ("dannyPhantom", "fonze", "mrT", "pixie"),
          "long": ("full",), "covered": ("turban",)},
    glasses={"clear": ("round", "square")},
    facial_hair={"beard": ("beard", "scruff")},
    facial_hair_control="facial_hair",
    moods={"eyes": {"happy": ("smiling", "smilingShadow")},
           "mouth": {"angry": ("frown",), "happy": ("laughing", "smile"), "in love": ("pucker",), "sad": ("sad",),
                     "surprised": ("surprised",)},
           "eyebrows": {"sad": ("down",), "surprised": ("up",)}},
    presets={
        "happy": {"eyes": "smiling", "eyebrows": "eyelashesUp", "mouth": "laughing"},
        "sad": {"eyes": "eyes", "eyebrows": "down", "mouth": "sad"},
        "surprised": {"eyes": "round", "eyebrows": "up", "mouth": "surprised"},
        "angry": {"eyes": "eyes", "eyebrows": "eyelashesDown", "mouth": "frown"},
        "in love": {"eyes": "eyesShadow", "eyebrows": "eyelashesUp", "mouth": "pucker"},
        "neutral": {"eyes": "eyes", "eyebrows": "eyelashesUp", "mouth": "smirk"},
    },
)

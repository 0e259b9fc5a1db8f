"""Art styles, and one identity carried between them.

Each style is a DiceBear style with its own parts (its own variant ids). A person designed in
one style is carried to another by ``restyle(spec, style)``, which keeps what makes them *them*:

=====================  ===================================================================
what                   how it carries
=====================  ===================================================================
colours                hair, outfit and skin colour are copied exactly (where the target
                       style has that colour; big-smile and adventurer draw no outfit)
glasses                on/off always; dark lenses where the target has dark glasses
                       (micah has none: clear glasses then); other accessories (eyepatch,
                       cat ears, ...) count as "no glasses"
facial hair            on/off, and beard vs moustache where the target has both; big-smile
                       draws facial hair as its "mustache" accessory, which shares the slot
                       with glasses (glasses win)
expression mood        happy, sad, surprised, angry, wink, in love, sleepy, dizzy, neutral:
                       the target's preset for that mood sets its eyes, eyebrows and mouth
hair shape             bald, short, long, updo, covered (hats, hijab, turban): a hair of the
                       same class: the same id where the target has it, else by position
                       within the class (so does the pick among glasses and facial hair)
=====================  ===================================================================

What cannot carry over (outfit style, a mood or hair class the target lacks) is left out of
the returned spec, so the seed chooses it, as for any omitted attribute. Everything here is
data (``STYLES``): one ``StyleMap`` per style, its choices equal to the trained vocabulary's
(a test checks them against the DiceBear style files).

A part's mood is read from its tags: the eyes first, then the mouth, then the eyebrows; a
face with no tagged part is "neutral".

Example:
    >>> restyle({"style": "avataaars", "accessories": "sunglasses", "skin_color": "#edb98a",
    ...          "eyes": "happy", "eyebrows": "default", "mouth": "smile"}, "big-smile")
    {'style': 'big-smile', 'skin_color': '#edb98a', 'accessories': 'sunglasses',
     'eyes': 'cheery', 'mouth': 'openedSmile'}
"""
from __future__ import annotations

from dataclasses import dataclass

from avatar_studio.attributes import EXPRESSIONS

DEFAULT_STYLE = "avataaars"
NONE = "none"
COLORS = ("hair_color", "outfit_color", "skin_color")
MOODS = ("happy", "sad", "surprised", "angry", "wink", "in love", "sleepy", "dizzy", "neutral")
HAIR_CLASSES = ("bald", "short", "long", "updo", "covered")
EXPRESSION_PARTS = ("eyes", "eyebrows", "mouth")


def _v(*numbers: int) -> tuple[str, ...]:
    """DiceBear's numbered variant ids: _v(1, 2) -> ("variant01", "variant02")."""
    return tuple(f"variant{n:02d}" for n in numbers)


@dataclass(frozen=True)
class StyleMap:
    """One style's choices and the identity tags behind ``restyle``."""

    name: str
    choices: dict[str, tuple[str, ...]]      # categorical control -> choices (the trained vocabulary's)
    colors: tuple[str, ...]                  # colour controls the style draws
    hair: dict[str, tuple[str, ...]]         # hair class -> hair choices (every choice in one class)
    glasses: dict[str, tuple[str, ...]]      # "clear" / "dark" -> accessories choices
    facial_hair: dict[str, tuple[str, ...]]  # "beard" / "moustache" -> choices of facial_hair_control
    facial_hair_control: str                 # "facial_hair", or "accessories" where it shares that slot
    moods: dict[str, dict[str, tuple[str, ...]]]  # part -> mood -> choices that show it
    expressions: dict[str, dict[str, str]]   # mood -> the parts that draw it

    @property
    def controls(self) -> list[str]:
        return list(self.choices) + list(self.colors)


_AVATAAARS = StyleMap(
    name="avataaars",
    choices={
        "hair": ("bigHair", "bob", "bun", "curly", "curvy", "dreads", "dreads01", "dreads02", "frida", "frizzle",
                 "fro", "froBand", "hat", "hijab", "longButNotTooLong", "miaWallace", "shaggy", "shaggyMullet",
                 "shavedSides", "shortCurly", "shortFlat", "shortRound", "shortWaved", "sides", "straight01",
                 "straight02", "straightAndStrand", "theCaesar", "theCaesarAndSidePart", "turban", "winterHat02",
                 "winterHat03", "winterHat04", "winterHat1", NONE),
        "outfit": ("blazerAndShirt", "blazerAndSweater", "collarAndSweater", "graphicShirt", "hoodie", "overall",
                   "shirtCrewNeck", "shirtScoopNeck", "shirtVNeck"),
        "eyes": ("closed", "cry", "default", "eyeRoll", "happy", "hearts", "side", "squint", "surprised", "wink",
                 "winkWacky", "xDizzy"),
        "eyebrows": ("angry", "angryNatural", "default", "defaultNatural", "flatNatural", "frownNatural",
                     "raisedExcited", "raisedExcitedNatural", "sadConcerned", "sadConcernedNatural",
                     "unibrowNatural", "upDown", "upDownNatural"),
        "mouth": ("concerned", "default", "disbelief", "eating", "grimace", "sad", "screamOpen", "serious", "smile",
                  "tongue", "twinkle", "vomit"),
        "accessories": (NONE, "eyepatch", "kurt", "prescription01", "prescription02", "round", "sunglasses",
                        "wayfarers"),
        "facial_hair": (NONE, "beardLight", "beardMajestic", "beardMedium", "moustacheFancy", "moustacheMagnum"),
    },
    colors=COLORS,
    hair={"bald": (NONE,),
          "short": ("dreads01", "dreads02", "frizzle", "shaggy", "shaggyMullet", "shortCurly", "shortFlat",
                    "shortRound", "shortWaved", "sides", "theCaesar", "theCaesarAndSidePart"),
          "long": ("bigHair", "bob", "curly", "curvy", "dreads", "fro", "froBand", "longButNotTooLong", "miaWallace",
                   "shavedSides", "straight01", "straight02", "straightAndStrand"),
          "updo": ("bun", "frida"),
          "covered": ("hat", "hijab", "turban", "winterHat02", "winterHat03", "winterHat04", "winterHat1")},
    glasses={"clear": ("prescription01", "prescription02", "round"), "dark": ("kurt", "sunglasses", "wayfarers")},
    facial_hair={"beard": ("beardLight", "beardMajestic", "beardMedium"),
                 "moustache": ("moustacheFancy", "moustacheMagnum")},
    facial_hair_control="facial_hair",
    moods={"eyes": {"sleepy": ("closed",), "sad": ("cry",), "happy": ("happy",), "in love": ("hearts",),
                    "angry": ("squint",), "surprised": ("surprised",), "wink": ("wink", "winkWacky"),
                    "dizzy": ("xDizzy",)},
           "mouth": {"sad": ("concerned", "sad"), "surprised": ("disbelief", "screamOpen"),
                     "happy": ("smile", "tongue", "twinkle"), "angry": ("serious",)},
           "eyebrows": {"angry": ("angry", "angryNatural", "frownNatural"), "sad": ("sadConcerned", "sadConcernedNatural"),
                        "surprised": ("raisedExcited", "raisedExcitedNatural")}},
    # the app's presets (avatar_studio.attributes.EXPRESSIONS), those of a mood
    expressions={feeling: EXPRESSIONS[feeling] for feeling in MOODS},
)

_BIG_SMILE = StyleMap(
    name="big-smile",
    choices={
        "hair": ("bangs", "bowlCutHair", "braids", "bunHair", "curlyBob", "curlyShortHair", "froBun",
                 "halfShavedHead", "mohawk", "shavedHead", "shortHair", "straightHair", "wavyBob"),
        "eyes": ("angry", "cheery", "confused", "normal", "sad", "sleepy", "starstruck", "winking"),
        "mouth": ("awkwardSmile", "braces", "gapSmile", "kawaii", "openSad", "openedSmile", "teethSmile",
                  "unimpressed"),
        "accessories": (NONE, "catEars", "clownNose", "faceMask", "glasses", "mustache", "sailormoonCrown",
                        "sleepMask", "sunglasses"),
    },
    colors=("hair_color", "skin_color"),
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
    expressions={
        "happy": {"eyes": "cheery", "mouth": "openedSmile"},
        "sad": {"eyes": "sad", "mouth": "openSad"},
        "angry": {"eyes": "angry", "mouth": "unimpressed"},
        "wink": {"eyes": "winking", "mouth": "teethSmile"},
        "in love": {"eyes": "starstruck", "mouth": "kawaii"},
        "sleepy": {"eyes": "sleepy", "mouth": "unimpressed"},
        "neutral": {"eyes": "normal", "mouth": "awkwardSmile"},
    },
)

_ADVENTURER = StyleMap(
    name="adventurer",
    choices={
        "hair": tuple(f"long{n:02d}" for n in range(1, 27)) + tuple(f"short{n:02d}" for n in range(1, 20)),
        "eyes": _v(*range(1, 27)),
        "eyebrows": _v(*range(1, 16)),
        "mouth": _v(*range(1, 31)),
        "accessories": (NONE,) + _v(1, 2, 3, 4, 5),
        "facial_hair": (NONE, "mustache"),
    },
    colors=("hair_color", "skin_color"),
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
    expressions={
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

_MICAH = StyleMap(
    name="micah",
    choices={
        "hair": ("dannyPhantom", "dougFunny", "fonze", "full", "mrClean", "mrT", "pixie", "turban", NONE),
        "outfit": ("collared", "crew", "open"),
        "eyes": ("eyes", "eyesShadow", "round", "smiling", "smilingShadow"),
        "eyebrows": ("down", "eyelashesDown", "eyelashesUp", "up"),
        "mouth": ("frown", "laughing", "nervous", "pucker", "sad", "smile", "smirk", "surprised"),
        "accessories": (NONE, "round", "square"),
        "facial_hair": (NONE, "beard", "scruff"),
    },
    colors=COLORS,
    hair={"bald": ("dougFunny", "mrClean", NONE), "short": ("dannyPhantom", "fonze", "mrT", "pixie"),
          "long": ("full",), "covered": ("turban",)},
    glasses={"clear": ("round", "square")},
    facial_hair={"beard": ("beard", "scruff")},
    facial_hair_control="facial_hair",
    moods={"eyes": {"happy": ("smiling", "smilingShadow")},
           "mouth": {"angry": ("frown",), "happy": ("laughing", "smile"), "in love": ("pucker",), "sad": ("sad",),
                     "surprised": ("surprised",)},
           "eyebrows": {"sad": ("down",), "surprised": ("up",)}},
    expressions={
        "happy": {"eyes": "smiling", "eyebrows": "eyelashesUp", "mouth": "laughing"},
        "sad": {"eyes": "eyes", "eyebrows": "down", "mouth": "sad"},
        "surprised": {"eyes": "round", "eyebrows": "up", "mouth": "surprised"},
        "angry": {"eyes": "eyes", "eyebrows": "eyelashesDown", "mouth": "frown"},
        "in love": {"eyes": "eyesShadow", "eyebrows": "eyelashesUp", "mouth": "pucker"},
        "neutral": {"eyes": "eyes", "eyebrows": "eyelashesUp", "mouth": "smirk"},
    },
)

STYLES: dict[str, StyleMap] = {s.name: s for s in (_AVATAAARS, _BIG_SMILE, _ADVENTURER, _MICAH)}


def style_map(name: object) -> StyleMap:
    if not isinstance(name, str) or name not in STYLES:
        raise ValueError(f"unknown style {str(name)[:40]!r}; choose one of: {', '.join(STYLES)}")
    return STYLES[name]


def split_style(spec: object) -> tuple[StyleMap, dict]:
    """A spec's style (its "style" key, default avataaars) and the rest of the spec."""
    if not isinstance(spec, dict):
        raise ValueError(f"spec must be a JSON object like {{\"hair\": \"bob\"}}, got {str(spec)[:40]!r}")
    rest = dict(spec)
    return style_map(rest.pop("style", DEFAULT_STYLE)), rest


def check_controls(style: StyleMap, spec: dict) -> None:
    """ValueError for a control this style lacks or a choice it doesn't have ("any" is always fine)."""
    for key, value in spec.items():
        if key not in style.controls:
            raise ValueError(f"style {style.name} has no control {str(key)[:40]!r}; its controls: "
                             f"{', '.join(style.controls)}")
        if key in style.choices and value != "any" and value not in style.choices[key]:
            raise ValueError(f"unknown {key} {str(value)[:40]!r} for style {style.name}; choose one of: "
                             f"{', '.join(style.choices[key])} (or 'any')")


# ---- reading identity off a spec ------------------------------------------------------------
def _class_of(table: dict[str, tuple[str, ...]], choice: str | None) -> str | None:
    return next((cls for cls, choices in table.items() if choice in choices), None)


def mood(style: StyleMap, spec: dict) -> str | None:
    """The face's mood: the eyes' tag, else the mouth's, else the eyebrows'; "neutral" with no tagged
    part; None when the spec sets no expression part."""
    parts = [p for p in EXPRESSION_PARTS if spec.get(p, "any") != "any"]
    if not parts:
        return None
    for part in ("eyes", "mouth", "eyebrows"):
        found = _class_of(style.moods.get(part, {}), spec.get(part))
        if found:
            return found
    return "neutral"


def glasses(style: StyleMap, spec: dict) -> str | None:
    """"clear", "dark", "off" (no glasses: none or another accessory), or None when left to the seed."""
    value = spec.get("accessories", "any")
    return None if value == "any" else _class_of(style.glasses, value) or "off"


def facial_hair(style: StyleMap, spec: dict) -> str | None:
    """"beard", "moustache", "off", or None when left to the seed."""
    value = spec.get(style.facial_hair_control, "any")
    return None if value == "any" else _class_of(style.facial_hair, value) or "off"


def hair_class(style: StyleMap, spec: dict) -> str | None:
    value = spec.get("hair", "any")
    return None if value == "any" else _class_of(style.hair, value)


# ---- carrying it over -----------------------------------------------------------------------
def _same_place(source: tuple[str, ...], choice: str, target: tuple[str, ...]) -> str:
    """The same id where the target's class has it (round glasses stay round), else the target choice
    at the source choice's place within its class (wrapping)."""
    if choice in target:
        return choice
    return target[source.index(choice) % len(target)] if choice in source else target[0]


def restyle(spec: dict, style: str) -> dict:
    """Carry a spec (its "style" key: the style it was made in, default avataaars) to ``style``.

    Returns the new spec with ``"style": style``; see the module docstring for what carries.
    Raises ValueError for an unknown style, or a control / choice the source style lacks.
    """
    source, spec = split_style(spec)
    target = style_map(style)
    check_controls(source, spec)
    spec = {k: v for k, v in spec.items() if v != "any"}
    if target is source:
        return {"style": target.name, **spec}
    out: dict[str, str] = {"style": target.name}
    for key in target.colors:  # colours: exactly
        if key in spec:
            out[key] = spec[key]

    cls = hair_class(source, spec)  # hair: a hair of the same class, where the target has that class
    if cls in target.hair:
        out["hair"] = _same_place(source.hair[cls], spec["hair"], target.hair[cls])

    worn, beard = glasses(source, spec), facial_hair(source, spec)
    if worn == "off":  # glasses on/off, and dark lenses where the target has them
        out["accessories"] = NONE
    elif worn is not None:
        lenses = target.glasses.get(worn) or target.glasses["clear"]
        out["accessories"] = _same_place(source.glasses[worn], spec["accessories"], lenses)
    slot = target.facial_hair_control
    if beard == "off" and slot == "facial_hair":  # (in a shared slot, "none" or glasses already say off)
        out[slot] = NONE
    elif beard not in (None, "off") and out.get(slot, NONE) == NONE:  # glasses keep a shared slot
        kinds = target.facial_hair.get(beard) or next(iter(target.facial_hair.values()))
        out[slot] = _same_place(source.facial_hair[beard], spec[source.facial_hair_control], kinds)

    feeling = mood(source, spec)  # expression: the target's preset of the same mood
    if feeling in target.expressions:
        out.update(target.expressions[feeling])
    return out

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
the returned spec, so the seed chooses it, as for any omitted attribute. The tags are data: each
style's vocabulary (vocabulary.json, then the model's config) carries them in its "identity"
block, next to its "expressions" presets; ``StyleMap.from_vocabulary`` reads them. They are
written by the style's declaration in train/styles/ (no table lives here).

A part's mood is read from its tags: the eyes first, then the mouth, then the eyebrows; a
face with no tagged part is "neutral".

Example (``maps``: style name -> StyleMap.from_vocabulary(that style's vocabulary)):
    >>> restyle({"style": "avataaars", "accessories": "sunglasses", "skin_color": "#edb98a",
    ...          "eyes": "happy", "eyebrows": "default", "mouth": "smile"}, "big-smile", maps)
    {'style': 'big-smile', 'skin_color': '#edb98a', 'accessories': 'sunglasses',
     'eyes': 'cheery', 'mouth': 'openedSmile'}
"""
from __future__ import annotations

from dataclasses import dataclass

DEFAULT_STYLE = "avataaars"
NONE = "none"
COLORS = ("hair_color", "outfit_color", "skin_color")
MOODS = ("happy", "sad", "surprised", "angry", "wink", "in love", "sleepy", "dizzy", "neutral")
HAIR_CLASSES = ("bald", "short", "long", "updo", "covered")
EXPRESSION_PARTS = ("eyes", "eyebrows", "mouth")


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
    presets: dict[str, dict[str, str]]       # expression presets (the app's menu): name -> parts; those
    #                                          named after a mood draw that mood

    @property
    def controls(self) -> list[str]:
        return list(self.choices) + list(self.colors)

    @property
    def expressions(self) -> dict[str, dict[str, str]]:
        """Mood -> the parts that draw it (the presets named after a mood)."""
        return {name: parts for name, parts in self.presets.items() if name in MOODS}

    @classmethod
    def from_vocabulary(cls, vocab: dict) -> "StyleMap":
        """From a vocabulary.json or a model config's vocabulary (objects or [key, value] pairs)."""
        identity = vocab.get("identity")
        if not isinstance(identity, dict):
            raise ValueError(f"the vocabulary of style {vocab.get('style', '?')!r} has no \"identity\" block")

        def table(value) -> dict[str, tuple[str, ...]]:
            return {str(k): tuple(v) for k, v in _items(value)}

        return cls(name=str(vocab.get("style", DEFAULT_STYLE)), choices=table(vocab["categorical"]),
                   colors=tuple(vocab["colors"]), hair=table(identity["hair"]), glasses=table(identity["glasses"]),
                   facial_hair=table(identity["facial_hair"]),
                   facial_hair_control=str(identity["facial_hair_control"]),
                   moods={str(part): table(tags) for part, tags in _items(identity["moods"])},
                   presets={str(k): dict(v) for k, v in _items(vocab.get("expressions", {}))})


def _items(value) -> list:
    """Key-value pairs of a JSON object or of a list of [key, value] pairs."""
    return list(value.items()) if isinstance(value, dict) else [tuple(pair) for pair in value]


def style_map(name: object, maps: dict[str, StyleMap]) -> StyleMap:
    if not isinstance(name, str) or name not in maps:
        raise ValueError(f"unknown style {str(name)[:40]!r}; choose one of: {', '.join(maps)}")
    return maps[name]


def split_style(spec: object, maps: dict[str, StyleMap]) -> tuple[StyleMap, dict]:
    """A spec's style (its "style" key, default avataaars) and the rest of the spec."""
    if not isinstance(spec, dict):
        raise ValueError(f"spec must be a JSON object like {{\"hair\": \"bob\"}}, got {str(spec)[:40]!r}")
    rest = dict(spec)
    return style_map(rest.pop("style", DEFAULT_STYLE), maps), rest


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


def wears_hat_or_glasses(style: StyleMap, spec: dict) -> bool:
    """Whether a face (its parts resolved) wears a hat (hair of the "covered" class) or glasses."""
    return hair_class(style, spec) == "covered" or glasses(style, spec) in ("clear", "dark")


# ---- carrying it over -----------------------------------------------------------------------
def _same_place(source: tuple[str, ...], choice: str, target: tuple[str, ...]) -> str:
    """The same id where the target's class has it (round glasses stay round), else the target choice
    at the source choice's place within its class (wrapping)."""
    if choice in target:
        return choice
    return target[source.index(choice) % len(target)] if choice in source else target[0]


def restyle(spec: dict, style: str, maps: dict[str, StyleMap]) -> dict:
    """Carry a spec (its "style" key: the style it was made in, default avataaars) to ``style``.

    ``maps``: style name -> StyleMap of every style on offer. Returns the new spec with
    ``"style": style``; see the module docstring for what carries. Raises ValueError for an
    unknown style, or a control / choice the source style lacks.
    """
    source, spec = split_style(spec, maps)
    target = style_map(style, maps)
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

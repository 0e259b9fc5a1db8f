"""Error messages in the page's language, translated at the UI boundary (no gradio here).

The studio, the recipe parser and the form raise ``ValueError`` with one English message
that names the field and the allowed values. The page shows it in its own language: each
known message shape below is matched, its field and allowed values are named through
``Labels`` (attribute, choice and control names), and it is written with the language's
template from assets/labels.json ("ui.error_*"). Every message the library can show on the page has
a shape here (tests/test_messages.py walks them all and checks each raise site is walked); one of no
known shape (a Python error from junk input) is said with the language's generic lead alone
("ui.error_other"), never as English under another language.

    translate(Labels.load(), "zh", "unknown hair 'bobb'; choose one of: bob, bun (or 'any')")
    # "发型不能是 'bobb'；可选：波波头、丸子头（或“任意”）"
"""
from __future__ import annotations

import re
from typing import Callable

from avatar_studio.labels import Labels

# the recipe's fields, named by the page's controls
FIELDS = {"seed": "seed", "truncation": "creativity", "size": "size", "frame": "frame", "background": "background",
          "border": "border", "frames": "frames", "recipe": "recipe_noun", "recipe A": "recipe_a",
          "recipe B": "recipe_b", "file": "file", "the link's recipe": "recipe_noun", "the PNG's recipe": "recipe_noun",
          "recipe file": "recipe_file", "spec": "design", "sliders": "sliders_noun", "colour": "colour",
          "locked": "locked", "from_a": "from_a", "from_b": "from_b"}
_ID = r"[\w-]+"


def _field(labels: Labels, lang: str, name: str) -> str:
    """A field's name in a language: an attribute, a control of the page, or the name as it is."""
    if name in FIELDS:
        return labels.ui(lang, FIELDS[name])
    if name.startswith("'any' "):              # the "let the model choose" tick of a colour
        return f"{labels.attribute(lang, name[6:])}（{labels.ui(lang, 'let_model_choose')}）"
    return labels.attribute(lang, name)


def _listed(text: str, name: Callable[[str], str], sep: str) -> str:
    return sep.join(name(item.strip()) for item in text.split(","))


# (message shape, template key, how each named group is shown)
def _shapes(labels: Labels, lang: str) -> list[tuple[re.Pattern, str, dict[str, Callable[[dict], str]]]]:
    sep = labels.ui(lang, "list_separator")
    attr = lambda g: labels.attribute(lang, g["attr"])
    field = lambda g: _field(labels, lang, g["field"])
    style = lambda key: lambda g: labels.style(lang, g[key])
    return [
        (re.compile(rf"unknown (?P<attr>{_ID}) (?P<got>.+?)(?: for style {_ID})?; choose one of: (?P<choices>.+) "
                    r"\(or 'any'\)$", re.S),
         "bad_choice", {"attr": attr,
                        "choices": lambda g: _listed(g["choices"], lambda c: labels.choice(lang, g["attr"], c), sep)}),
        (re.compile(r"unknown style (?P<got>.+?); choose one of: (?P<choices>.+)$", re.S), "bad_style",
         {"choices": lambda g: _listed(g["choices"], lambda c: labels.style(lang, c), sep)}),
        (re.compile(rf"style (?P<style>{_ID}) has no control (?P<got>.+?); its controls: (?P<choices>.+)$", re.S),
         "no_control", {"style": style("style"),
                        "choices": lambda g: _listed(g["choices"], lambda c: labels.attribute(lang, c), sep)}),
        (re.compile(r"unknown attribute (?P<got>'[^']*'|\S+)[^;]*; choose from: (?P<choices>.+)$", re.S), "bad_attribute",
         {"choices": lambda g: _listed(g["choices"], lambda c: labels.attribute(lang, c), sep)}),
        (re.compile(rf"unknown expression (?P<got>.+?)(?: in style {_ID})?; choose one of: (?P<choices>.+)$", re.S),
         "bad_expression",
         {"choices": lambda g: _listed(g["choices"], lambda c: labels.expression(lang, c), sep)}),
        (re.compile(r"unknown slider (?P<got>.+?); choose from: \(none\)$", re.S), "no_slider", {}),
        (re.compile(r"unknown slider (?P<got>.+?); choose from: (?P<choices>.+)$", re.S), "bad_slider",
         {"choices": lambda g: _listed(g["choices"], lambda c: labels.slider(lang, c), sep)}),
        (re.compile(rf"(?P<field>{_ID}|'any' {_ID}) must be a colour like .+ or 'any', got (?P<got>.+)$", re.S),
         "bad_colour", {"field": field}),
        (re.compile(r"slider (?P<name>.+) must be a number from (?P<lo>\S+) to (?P<hi>\S+), got (?P<got>.+)$", re.S),
         "bad_slider_value", {"name": lambda g: labels.slider(lang, g["name"])}),
        (re.compile(r"(?P<field>.+?) must be a whole number from (?P<lo>\S+) to (?P<hi>\S+), got (?P<got>.+)$", re.S),
         "bad_whole", {"field": field}),
        (re.compile(r"(?P<field>.+?) must be (?:a number )?from (?P<lo>\S+) to (?P<hi>\S+), got (?P<got>.+)$", re.S),
         "bad_number", {"field": field}),
        (re.compile(r"(?P<field>.+?) must be true or false, got (?P<got>.+)$", re.S), "not_flag", {"field": field}),
        (re.compile(r"(?P<field>.+?) must be an? (?:JSON )?object(?: like .+?)?, got (?P<got>.+)$", re.S), "not_object",
         {"field": field}),
        (re.compile(r"(?P<field>.+?) must be a list of attribute names, .+$", re.S), "not_names", {"field": field}),
        (re.compile(r"background must be one of: (?P<choices>.+), got (?P<got>.+)$", re.S), "bad_option",
         {"field": lambda g: labels.ui(lang, "background"),
          "choices": lambda g: _listed(g["choices"], lambda c: labels.ui(lang, c), sep)}),
        (re.compile(r"size must be one of (?P<choices>.+), got (?P<got>.+)$", re.S), "bad_option",
         {"field": lambda g: labels.ui(lang, "size")}),
        (re.compile(r"frame must be one of: (?P<choices>.+), got (?P<got>.+)$", re.S), "bad_option",
         {"field": lambda g: labels.ui(lang, "frame"),
          "choices": lambda g: _listed(g["choices"], lambda c: labels.ui(lang, f"frame_{c}"), sep)}),
        (re.compile(r"(?P<field>background|border) must be '(?P<none>\w+)' or a colour .+, got (?P<got>.+)$", re.S),
         "bad_colour_or_none", {"field": lambda g: labels.ui(lang, g["field"]),
                                "none": lambda g: labels.ui(lang, "transparent" if g["none"] == "transparent"
                                                            else "frame_none")}),
        (re.compile(r"(?P<field>.+?) is not valid JSON \(.*?line (?P<line>\d+) column (?P<column>\d+).*\)$", re.S),
         "bad_json_at", {"field": field}),
        (re.compile(r"(?P<field>.+?) is not valid JSON \(.*\)$", re.S), "bad_json",
         {"field": field}),
        (re.compile(r"(?P<field>.+?) must be JSON text, got (?P<got>.+)$", re.S), "not_text",
         {"field": field}),
        (re.compile(r"(?P<field>.+?) is too large \((?:\d+ \w+; )?at most (?P<max>\d+)(?: bytes)?\)$", re.S), "too_large",
         {"field": field}),
        (re.compile(rf"(?P<attr>{_ID}) cannot come from both A and B; .*$", re.S), "both_parents", {"attr": attr}),
        (re.compile(r"unknown recipe key (?P<got>.+?); allowed: (?P<choices>.+)$", re.S), "bad_key",
         {"choices": lambda g: sep.join(f"“{c.strip()}”" for c in g["choices"].split(","))}),   # the recipe's keys
        (re.compile(r"recipe needs \"(?P<key>\w+)\"$"), "missing_key", {}),
        (re.compile(rf"recipe is for model (?P<got>.+), but (?P<loaded>.+) is loaded(?: for style (?P<style>{_ID}))?$",
                    re.S), "other_model", {}),
        (re.compile(r"This recipe was made with (?P<got>.+); (?P<loaded>.+) is loaded: the same choices, but the "
                    r"picture may differ\.$", re.S), "version_note", {}),
        (re.compile(r"recipe must be a JSON object with .+$", re.S), "recipe_object", {}),
        (re.compile(r"model must be a string like .+, got (?P<got>.+)$", re.S), "bad_model_name", {}),
        (re.compile(r"(?P<got>.+) is not a number JSON allows$", re.S), "not_json_number", {}),
        *[(re.compile(rf"recipe A is in style (?P<a>{_ID}) and recipe B in style (?P<b>{_ID}): a {what} .+$", re.S),
           f"styles_differ_{what}", {"a": style("a"), "b": style("b")}) for what in ("breed", "morph")],
        (re.compile(rf"the weights of style (?P<style>{_ID}) carry no identity tags: .+$", re.S), "no_identity",
         {"style": style("style")}),
        (re.compile(r"this model has no slider directions .+$", re.S), "no_directions", {}),
        (re.compile(r"expected (?P<want>\d+) control values, got (?P<got>\d+)$"), "form_size", {}),
        (re.compile(r"show the choices of an attribute first$"), "preview_first", {}),
        (re.compile(r"no variations to pick from yet$"), "no_variations", {}),
        (re.compile(r"the link's r= code is not an Avatar Studio share code$"), "not_share_code", {}),
        (re.compile(r"the link's r= code is damaged .+$"), "damaged_share_code", {}),
        (re.compile(r"the design kept in this browser must be a share code .+$"), "bad_kept_design", {}),
        (re.compile(r"not a PNG file.*$", re.S), "not_png", {}),
        (re.compile(r"this PNG carries no Avatar Studio recipe .+$", re.S), "png_without_recipe", {}),
        (re.compile(r"upload one recipe file .+$", re.S), "upload_one", {}),
        (re.compile(r"(?P<field>.+?) is not UTF-8 text$", re.S), "not_utf8", {"field": field}),
        (re.compile(r"pick one of the (?P<count>\d+) pictures, got index (?P<got>.+)$", re.S), "bad_pick", {}),
        (re.compile(r".+ at (?P<size>\d+) px is too much work for one request \((?P<images>\d+) pictures, \d+ units; "
                    r"at most \d+\): .+$", re.S), "too_much_work", {}),
    ]


def translate(labels: Labels, lang: str, message: str) -> str:
    """``message`` in ``lang`` (English messages are already in English); one of no known shape is said
    with the language's generic lead alone (its English detail would be English under another language)."""
    if lang == "en":
        return message
    for pattern, key, shown in _shapes(labels, lang):
        m = pattern.match(message)
        if m:
            groups = {k: v for k, v in m.groupdict().items() if v is not None}
            groups.update({name: show(groups) for name, show in shown.items()})
            return labels.ui(lang, f"error_{key}").format(**groups)
    return labels.ui(lang, "error_other")

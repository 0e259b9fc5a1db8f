"""Every message the page can show, said in 中文 with no English left in it (issue 14: "输入有误：" followed by
English). The walk below makes each error the library raises for bad input, through the API the page calls,
and a static check holds that every ``raise ValueError`` of the modules behind the page is walked."""
from __future__ import annotations

import ast
import json
import re
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import pytest

import torch

from avatar_studio import form as F
from avatar_studio import pngrecipe as P
from avatar_studio.controls import Directions, steer_color
from avatar_studio.fair import check_work
from avatar_studio.labels import Labels
from avatar_studio.messages import translate
from avatar_studio.ui import Designer

PACKAGE = Path(__file__).resolve().parent.parent / "avatar_studio"
# the modules whose errors reach the page (cli, publish, weights and the generator speak to developers)
PAGE_MODULES = ("attributes", "controls", "fair", "form", "labels", "pngrecipe", "recipe", "studio", "styles", "ui")
# raise sites whose message never reaches a visitor, each with why
NOT_SHOWN = {
    "which the vocabulary lacks": "a vocabulary whose expression names a choice it lacks: refused when the weights load",
    "two weights folders draw style": "refused when the weights load",
    "specs and seeds must be the same length": "design_batch, the Python API only",
    "a batch holds 1 to": "design_batch, the Python API only",
    "the vocabulary of style ": "a style vocabulary without its identity block: refused when the weights load",
    "session_hash must be": "the guard refuses the request before any page event runs",
    "language must be one of": "an unknown language: said in English, there is no other to say it in",
}


def raised(fn, *args) -> str:
    """The message of the ValueError (or gr.Error) a call raises."""
    with pytest.raises((ValueError, gr.Error)) as e:
        fn(*args)
    return getattr(e.value, "message", None) or str(e.value)


def warned(fn, *args) -> str:
    """The message of the one warning toast a call shows (a bad recipe opened), without its lead."""
    with pytest.warns(UserWarning) as caught:
        fn(*args)
    return str(caught[0].message).split(": ", 1)[1]


def recipe(**changes) -> str:
    return json.dumps({"seed": 1, "spec": {}, **changes})


def walk(studio, styled, designer) -> list[str]:
    """One English message per raise site behind the page, each made the way a visitor or the page makes it."""
    d, check = designer, studio.check_recipe
    start = dict(zip(d.fields, d.form_of(d.form.start)))
    form = lambda **v: [{**start, **v}[f] for f in d.fields]                       # noqa: E731
    png_no_recipe = studio.render_png(recipe())
    return [
        # recipes (recipe.py, attributes.py, controls.py, studio.py, styles.py)
        raised(check, "{oops"), raised(check, "[" * 10_000), raised(check, "[]"), raised(check, "x" * 100_000),
        raised(check, recipe(colour=1)), raised(check, json.dumps({"seed": 1})), raised(check, recipe(model=3)),
        raised(check, recipe(spec=[1])), raised(check, recipe(seed=-4)), raised(check, recipe(size=300)),
        raised(check, recipe(background=3)), raised(check, recipe(frame="star")), raised(check, recipe(border="x")),
        raised(check, '{"seed": NaN, "spec": {}}'), raised(check, recipe(model="other@1")),
        raised(check, recipe(truncation=9)), raised(check, recipe(sliders=[1])), raised(check, recipe(sliders={"x": 1})),
        raised(check, recipe(sliders={studio.sliders[0]: 9})), raised(check, recipe(spec={"hair": "bobb"})),
        raised(check, recipe(spec={"hat": "x"})), raised(check, recipe(spec={"hair_color": "red"})),
        raised(check, recipe(spec={"style": "cubist"})), raised(studio.design, [1], 1),
        raised(styled.check_recipe, recipe(spec={"style": "big-smile"}, sliders={studio.sliders[0]: 1})),
        raised(styled.check_recipe, recipe(spec={"style": "big-smile", "hair": "bob"})),
        raised(styled.check_recipe, recipe(spec={"style": "big-smile"}, model="other@1")),
        raised(styled.restyle, {"hair": "bobb"}, "big-smile"),
        raised(styled.restyle, {"style": "big-smile", "outfit": "hoodie"}, "avataaars"),
        raised(studio.steer_color, recipe(), "red"),
        raised(steer_color, torch.zeros(8), None, Directions.empty(8), (0.0, 0.0, 0.0)),   # a model without sliders
        # the tools (studio.py, fair.py)
        raised(studio.variations, recipe(), ["nope"]), raised(studio.preview, recipe(), "nope"),
        raised(studio.breed, recipe(), recipe(), "hair", []), raised(studio.breed, recipe(), recipe(), ["nope"], []),
        raised(studio.breed, recipe(), recipe(), ["hair"], ["hair"]),
        raised(styled.breed, recipe(), recipe(spec={"style": "big-smile"}), [], []),
        raised(styled.morph, recipe(), recipe(spec={"style": "big-smile"}), 4), raised(studio.morph, recipe(), recipe(), 1),
        raised(check_work, "a morph", 64, 1024),
        # the form and the page (form.py, ui.py, pngrecipe.py)
        raised(F.text, "recipe", None), raised(F.text, "recipe", "x" * 100_000), raised(F.whole, "frames", 0, 2, 32),
        raised(F.picked, 9, 8), raised(d.form.recipe_of, [1]), raised(d.form.recipe_of, form(**{"border": "yes"})),
        raised(d.form.recipe_of, form(background="plaid")),
        raised(d.form.recipe_of, form(**{f"any:{studio.colors[0]}": "yes"})),
        raised(d.form.with_choice, recipe(), "nope", 0), raised(d.form.expression_parts, "nope"),
        raised(F.from_share_code, "nope"), raised(F.from_share_code, "1AAAA"),
        raised(F.from_share_code, "1" + F.share_code(recipe(spec={"hair": "x" * 30_000}))[1:]),
        raised(P.recipe_in, b"GIF89a"), raised(P.recipe_in, png_no_recipe), raised(P.recipe_text, b"{\xff}"),
        raised(P.recipe_text, b" " * 100_000),
        raised(P.recipe_in, png_no_recipe[:33] + P.png_chunk(b"tEXt", P.KEYWORD + b"\0" + b" " * 100_000)),
        raised(P.with_recipe, b"GIF89a", "{}"),
        raised(d.in_language(d.use_color), "en", "red"),
        raised(d.open_url, "junk!", SimpleNamespace(query_params={})),
        warned(d.open_file, None), raised(d.variations, recipe(), "hair"),
        raised(d.in_language(d.adopt), "en", None, SimpleNamespace(index=0)),
        raised(d.switch_style, recipe(), "cubist", "en"), untagged(styled),
    ]


def untagged(styled) -> str:
    """Restyle where one style's weights carry no identity tags (folders from before styles)."""
    tags = styled.maps["big-smile"]
    styled.maps["big-smile"] = None
    try:
        return raised(styled.restyle, {"hair": "bob"}, "big-smile")
    finally:
        styled.maps["big-smile"] = tags


@pytest.fixture(scope="module")
def messages(studio, styled_studio) -> list[str]:
    designer = Designer(studio)
    designer.build()
    return walk(studio, styled_studio, designer)


def test_every_raise_behind_the_page_is_walked(messages):
    """A new error message cannot slip past the walk (and so past its 中文 shape) unnoticed."""
    missing = []
    for module in PAGE_MODULES:
        for node in ast.walk(ast.parse((PACKAGE / f"{module}.py").read_text())):
            if not (isinstance(node, ast.Raise) and isinstance(node.exc, ast.Call)
                    and getattr(node.exc.func, "id", None) == "ValueError" and node.exc.args):
                continue
            arg = node.exc.args[0]
            parts = [arg] if isinstance(arg, ast.Constant) else [
                p for p in getattr(arg, "values", []) if isinstance(p, ast.Constant)]
            literal = max((str(p.value) for p in parts), key=len, default="")     # its longest fixed words
            if literal and not any(literal in m for m in messages) and not any(k in literal for k in NOT_SHOWN):
                missing.append(f"{module}.py:{node.lineno}: {literal!r}")
    assert not missing, "raise sites the walk does not make:\n" + "\n".join(missing)


# what may stay ASCII in a 中文 message: what the visitor typed (quoted), colour codes, numbers, model ids,
# file and format names, the parents A and B, the link's r=
ECHOED = re.compile(r"'[^']*'|\"[^\"]*\"|“[^”]*”|#[0-9a-fA-F]{3,8}\b|[\w.-]+@[\w.<>-]+|\d+(\.\d+)?|\br=|"
                    r"\b(JSON|PNG|UTF|json|A|B|rrggbb)\b")


def test_every_message_is_said_in_chinese_with_no_english_left(messages, studio, styled_studio):
    labels = Labels.load()
    # a slider direction nobody named (the tiny test models' "style 2") is shown by its id, as on the page itself
    unnamed = {word for s in {*studio.sliders, *styled_studio.model("big-smile").directions.names}
               if labels._find("zh", "sliders", s) is None for word in re.findall(r"[A-Za-z]{2,}", labels.slider("zh", s))}
    english = []
    for message in messages:
        zh = translate(labels, "zh", message)
        left = [w for w in re.findall(r"[A-Za-z]{2,}", ECHOED.sub(" ", zh)) if w not in unnamed]
        if left or zh == labels.ui("zh", "error_other"):
            english.append(f"{message!r}\n  -> {zh!r} (left: {left})")
    assert not english, "\n".join(english)


def test_a_message_of_no_known_shape_is_no_english_under_chinese():
    labels = Labels.load()
    zh = translate(labels, "zh", "unhashable type: 'list'")             # a Python error from junk input
    assert zh == labels.ui("zh", "error_other") and not re.search(r"[A-Za-z]", zh)
    assert translate(labels, "en", "unhashable type: 'list'") == "unhashable type: 'list'"


def test_the_version_note_is_said_in_chinese(studio, monkeypatch):
    d = Designer(studio)
    d.build()
    older = recipe(model=studio.model_id.split("@")[0] + "@0")
    toasts = []
    monkeypatch.setattr(gr, "Info", lambda text, title: toasts.append((title, text)))
    d.open_recipe(older, "zh")
    (title, text), = toasts
    assert title == "提示" and "画面可能不同" in text, text
    assert not re.findall(r"[A-Za-z]{2,}", ECHOED.sub(" ", text)), text

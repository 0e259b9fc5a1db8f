"""Every handler of the designer page, called directly on the tiny model."""
from __future__ import annotations

import io
import json
import math
import random
import zipfile
from types import SimpleNamespace

import gradio as gr
import pytest
import torch
from PIL import Image

from avatar_studio.form import EMPTY_HISTORY, START
from avatar_studio.labels import Labels, humanize
from avatar_studio.serving import SETTINGS
from avatar_studio.studio import LIVE_SIZE
from avatar_studio.ui import Designer, build_demo
from tests.harness import inline_picture

PNG = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def designer(studio) -> Designer:
    d = Designer(studio)
    d.build()
    return d


def select(index) -> gr.SelectData:
    return gr.SelectData(None, {"index": index, "value": None})


def form_with(d: Designer, recipe=START, **changes) -> list:
    """The form showing a recipe, with some fields (by name) changed."""
    values = dict(zip(d.fields, d.form_of(recipe)))
    assert set(changes) <= set(values)
    values.update(changes)
    return [values[f] for f in d.fields]


def recipe_text(studio, **extra) -> str:
    return json.dumps({"seed": 7, "spec": {"hair": studio.attributes["hair"][1]}, "size": 128, **extra})


# ---- the page is built from the model ---------------------------------------------------------
def test_demo_is_built_from_the_model_and_exposes_two_named_endpoints(studio):
    demo = build_demo(studio)
    config = demo.get_config_file()
    dropdowns = {c["props"].get("elem_id"): c["props"] for c in config["components"] if c["type"] == "dropdown"}
    hair = dropdowns["attr-hair"]
    assert [v for _, v in hair["choices"]] == ["any"] + studio.attributes["hair"]
    assert all(f"attr-{a}" in dropdowns for a in studio.attributes)
    assert [v for _, v in dropdowns["expression"]["choices"]] == ["any", *studio.expressions, "custom"]
    api = demo.get_api_info()["named_endpoints"]
    assert set(api) == {"/design", "/variations"}
    assert demo.delete_cache is not None


def test_launch_settings_fit_a_small_public_space():
    LAUNCH, QUEUE = SETTINGS.launch_kwargs(), SETTINGS.queue_kwargs()
    assert LAUNCH["share"] is False and LAUNCH["enable_monitoring"] is False and LAUNCH["show_error"] is True
    assert "allowed_paths" not in LAUNCH and LAUNCH["run_history"] is False
    assert QUEUE["default_concurrency_limit"] <= 2 and 0 < QUEUE["max_size"] <= 256


def test_labels_cover_the_vocabulary_in_both_languages(studio):
    labels = Labels.load()
    for lang in ("en", "zh"):
        table = labels.table[lang]
        for attribute, choices in studio.attributes.items():
            assert attribute in table["attributes"]
            missing = [c for c in choices if c not in table["choices"].get(attribute, {})
                       and c not in table["choices"]["common"]]
            assert not missing, (lang, attribute, missing)
        assert all(c in table["attributes"] for c in studio.colors)
        assert all(n in table["expressions"] for n in studio.expressions)
    assert labels.choice("zh", "hair", "bob") == "波波头"
    assert labels.choice("zh", "hair", "brandNewHair2") == "Brand new hair 2"   # an id nobody translated
    assert humanize("shortCurly") == "Short curly" and humanize("facial_hair") == "Facial hair"


def test_relabel_switches_language_but_keeps_ids(designer):
    updates = designer.relabel("zh")
    assert len(updates) == len(designer._texts)
    hair = next(u for u in updates if u.get("label") == "发型")
    assert ("波波头", "bob") in hair["choices"]
    assert any(u.get("label") == "发型" for u in updates)
    assert any(u.get("label") == "⬇ 下载 PNG" for u in updates)
    assert any(u.get("label") == "Hair" for u in designer.relabel("en"))
    with pytest.raises(gr.Error, match="language"):
        designer.relabel("fr")


# ---- live design, expressions, colours, seed ---------------------------------------------------
def test_step_renders_the_form_and_records_history(designer, studio):
    form = form_with(designer, **{"attr:hair": "bob", "frame": "circle"})
    shown, text, code, expression, history = designer.step(dict(EMPTY_HISTORY), *form)
    recipe = json.loads(text)
    image = inline_picture(shown)
    side = min(LIVE_SIZE, recipe["size"])
    assert image.size == (side, side) and image.mode == "RGBA"
    assert recipe["spec"] == {"hair": "bob"} and recipe["model"] == studio.model_id and recipe["frame"] == "circle"
    assert expression == "any" and history == {"undo": [], "redo": [], "now": text}
    # same controls again: no new step; the recipe re-opens to the same form
    assert designer.step(history, *form)[-1] is history
    assert designer.form_of(text) == form


def test_step_rejects_bad_values_with_the_studios_message(designer):
    base = dict(zip(designer.fields, designer.form_of(START)))
    bad = [({"truncation": float("nan")}, "truncation"), ({"truncation": math.inf}, "truncation"),
           ({"seed": None}, "seed"), ({"seed": -1}, "seed"), ({"attr:hair": ["bob"]}, "hair"),
           ({"attr:hair": "bobb"}, "hair"), ({"any:hair_color": False, "color:hair_color": "javascript:alert(1)"},
                                             "hair_color"),
           ({"any:hair_color": "no"}, "any"), ({"color:skin_color": "x" * 100_000, "any:skin_color": False}, "skin"),
           ({"size": 300}, "size"), ({"frame": "star"}, "frame"), ({"background": None}, "background"),
           ({"slider:hat colour": float("-inf")}, "slider")]
    for change, word in bad:
        form = [{**base, **change}[f] for f in designer.fields]
        with pytest.raises(gr.Error, match=word):
            designer.step(dict(EMPTY_HISTORY), *form)
    with pytest.raises(gr.Error, match="control values"):
        designer.step(dict(EMPTY_HISTORY), *designer.form_of(START)[:-1])


def test_expression_presets_set_and_match_the_parts(designer, studio):
    name, preset = next(iter(studio.expressions.items()))
    *parts, advanced = designer.set_expression(name)          # the last output: the eyes/eyebrows/mouth box
    assert parts == [preset[p] for p in designer.parts] and advanced == gr.skip()
    assert designer.set_expression("any") == ["any"] * len(designer.parts) + [gr.skip()]
    assert designer.match_expression(preset) == name
    assert designer.match_expression({}) == "any"
    assert designer.match_expression({designer.parts[0]: preset[designer.parts[0]]}) == "custom"
    form = form_with(designer, **{f"attr:{p}": v for p, v in zip(designer.parts, parts)})
    assert designer.step(dict(EMPTY_HISTORY), *form)[3] == name
    with pytest.raises(gr.Error, match="expression"):
        designer.set_expression("smug")


def test_colours_seed_and_swatches(designer):
    assert designer.use_color("#a55728") is False
    assert designer.use_swatch("#A55728") == ("#a55728", False)
    assert designer.use_background("#ffffff") == "colour" and designer.use_border("#000000") is True
    for bad in ["javascript:alert(1)", None, ["#ffffff"], "#fff", "#ffffff" * 1000]:
        with pytest.raises(gr.Error):
            designer.use_swatch(bad)
    state, torch_state = random.getstate(), torch.random.get_rng_state()
    seeds = {designer.roll_seed() for _ in range(20)}
    assert len(seeds) > 1 and all(0 <= s < 2**31 for s in seeds)
    assert random.getstate() == state and torch.equal(torch.random.get_rng_state(), torch_state)


def test_undo_and_redo_walk_the_design_steps(designer):
    history = dict(EMPTY_HISTORY)
    texts = []
    for seed in (1, 2, 3):
        _, text, _, _, history = designer.step(history, *form_with(designer, seed=seed))
        texts.append(text)
    out = designer.undo(history, "en")
    form, history = out[:-1], out[-1]
    assert form == designer.form_of(texts[1]) and history["now"] == texts[1]
    assert designer.step(history, *form)[-1] is history         # the re-render after undo is no new step
    history = designer.undo(history, "en")[-1]
    assert history["now"] == texts[0] and not history["undo"]
    nothing = designer.undo(history, "zh")                       # nothing left: controls stay as they are
    assert nothing[-1] is history and len(nothing) == len(designer.fields) + 1
    out = designer.redo(history, "en")
    assert out[:-1] == designer.form_of(texts[1]) and out[-1]["now"] == texts[1]
    # a new step after undo drops the redo branch
    branched = designer.step(out[-1], *form_with(designer, seed=9))[-1]
    assert branched["redo"] == [] and branched["undo"][-1] == texts[1]


# ---- recipes in ---------------------------------------------------------------------------------
def test_open_recipe_from_paste_file_and_url(designer, studio, tmp_path, monkeypatch):
    text = recipe_text(studio, frame="rounded", border="#112233")
    form = designer.open_recipe(text)
    values = dict(zip(designer.fields, form))
    assert values["seed"] == 7 and values["frame"] == "rounded" and values["border"] is True
    assert values["border_color"] == "#112233" and values["attr:hair"] == studio.attributes["hair"][1]
    path = tmp_path / "r.json"
    path.write_text(text)
    assert designer.open_file(str(path)) == form
    skipped = [gr.skip() for _ in designer.fields]
    for content, words in ((" " * 20_000 + text, "too large"), (b"\xff\xfe{", "not UTF-8 text")):
        path.write_bytes(content.encode() if isinstance(content, str) else content)
        with pytest.warns(UserWarning, match=words):                # one toast; the form stays as it is
            assert designer.open_file(str(path)) == skipped
    assert designer.open_url("", SimpleNamespace(query_params={"recipe": text})) == form
    start = designer.form_of(designer.form.start)
    assert designer.open_url("", SimpleNamespace(query_params={})) == start
    with pytest.warns(UserWarning, match="could not be opened"):    # a toast on the page
        assert designer.open_url("", SimpleNamespace(query_params={"recipe": "{oops"})) == start
    for bad in ["{oops", "[]", json.dumps({"seed": 1, "spec": {"hair": "bobb"}})]:
        with pytest.warns(UserWarning):
            assert designer.open_recipe(bad) == skipped
    for bad in ["x" * 100_000, None, ["{}"]]:
        with pytest.raises(gr.Error):
            designer.open_recipe(bad)
    older = json.dumps({**json.loads(text), "model": "tiny@0"})  # saved with another version of the model
    toasts = []
    monkeypatch.setattr(gr, "Info", lambda text, title: toasts.append((title, text)))
    assert designer.open_recipe(older) == form and designer.open_recipe(text) == form
    assert toasts == [("Note", "This recipe was made with tiny@0; tiny@1 is loaded: the same choices, "
                               "but the picture may differ.")]  # an info toast on the page, for the older one only
    assert designer.open_recipe(older, "zh") == form and toasts[-1][0] == "提示"     # titled in the page's language


# ---- pictures and files out ---------------------------------------------------------------------
def test_design_writes_the_exact_png_of_the_recipe(designer, studio):
    text = recipe_text(studio, frame="circle", background="#ffeedd")
    path = designer.design(text)
    data = open(path, "rb").read()
    assert data.startswith(PNG) and data == studio.render_png(text)
    assert Image.open(io.BytesIO(data)).size == (128, 128)
    for bad, word in [("{", "JSON"), (json.dumps({"seed": 1, "spec": {}, "size": 100}), "size"),
                      (json.dumps({"seed": 1, "spec": {"hair_color": "javascript:x"}}), "hair_color"),
                      (json.dumps({"seed": 1, "spec": {}, "truncation": 1e309}), "Infinity"),
                      (json.dumps({"seed": 1, "spec": {}, "truncation": 9}), "truncation"),
                      (None, "recipe"), (["{}"], "recipe")]:
        with pytest.raises(gr.Error, match=word):
            designer.design(bad)


def test_variations_keep_locked_attributes_and_can_be_adopted(designer, studio):
    text = recipe_text(studio)
    gallery, recipes = designer.variations(text, ["hair"])
    assert len(gallery) == len(recipes) == 8
    assert all(r["spec"]["hair"] == studio.attributes["hair"][1] for r in recipes)
    assert all(isinstance(im, Image.Image) and caption.startswith("seed ") for im, caption in gallery)
    form = designer.adopt(recipes, select(3))
    assert form == designer.form_of(recipes[3])
    for bad in [None, "hair", [["hair"]], ["wings"]]:
        with pytest.raises(gr.Error):
            designer.variations(text, bad)
    for index in [8, -1, None, "1", True]:
        with pytest.raises(gr.Error):
            designer.adopt(recipes, select(index))


def test_preview_strip_shows_every_choice_and_picks_one(designer, studio):
    text = recipe_text(studio)
    gallery, attribute = designer.preview(text, "outfit", "zh")
    choices = studio.attributes["outfit"]
    assert attribute == "outfit" and len(gallery) == len(choices)
    assert gallery[0][1] == designer.labels.choice("zh", "outfit", choices[0])
    form = designer.pick_preview("outfit", text, select(2))
    assert dict(zip(designer.fields, form))["attr:outfit"] == choices[2]
    with pytest.raises(gr.Error, match="attribute"):
        designer.preview(text, "wings", "en")
    with pytest.raises(gr.Error):
        designer.pick_preview(None, text, select(0))


def test_sticker_pack_recipe_file_and_morph(designer, studio):
    text = recipe_text(studio)
    with zipfile.ZipFile(designer.sticker_pack(text)) as zf:
        names = zf.namelist()
        assert len(names) == len(studio.expressions)
        assert all(zf.read(n).startswith(PNG) for n in names)
    saved = json.load(open(designer.recipe_file(text)))
    assert saved == studio.check_recipe(text).to_dict()
    gif = open(designer.morph(text, recipe_text(studio, seed=8), 4), "rb").read()
    assert gif.startswith(b"GIF89a")
    for frames in [float("nan"), 1, 65, 2.5, "4", None]:
        with pytest.raises(gr.Error, match="frames"):
            designer.morph(text, text, frames)


def test_form_labels_and_fair_share_rules_import_no_gradio():
    import subprocess
    import sys
    code = ("import sys, avatar_studio.form, avatar_studio.labels, avatar_studio.fair; "
            "print([m for m in sys.modules if m.split('.')[0] in ('gradio', 'gradio_client')])")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                         env={**__import__("os").environ, "OMP_WAIT_POLICY": "PASSIVE"})
    assert out.returncode == 0 and out.stdout.strip() == "[]", out.stderr[-2000:]

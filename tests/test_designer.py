"""The designer's second pass (issue 14), without a browser: the PNG that carries its recipe, the
one-click download file, friendly start, randomise / reset, short share links, clear messages."""
from __future__ import annotations

import base64
import io
import json
import warnings

import gradio as gr
import pytest
from PIL import Image

from avatar_studio import form as F
from avatar_studio import pngrecipe as P
from avatar_studio.cli import main
from avatar_studio.form import EMPTY_HISTORY
from avatar_studio.studio import LIVE_SIZE
from avatar_studio.ui import Designer


@pytest.fixture(scope="module")
def designer(studio) -> Designer:
    d = Designer(studio)
    d.build()
    return d


def values(d: Designer, recipe, **changes) -> list:
    v = dict(zip(d.fields, d.form_of(recipe)))
    v.update(changes)
    return [v[f] for f in d.fields]


# ---- 14: the recipe travels inside the PNG ------------------------------------------------------
def test_png_carries_its_recipe_and_gives_it_back_with_the_same_pixels(studio):
    recipe = {"seed": 5, "spec": {"hair": studio.attributes["hair"][0], "hair_color": "#a55728"}, "size": 128}
    plain = studio.render_png(recipe)
    png = P.with_recipe(plain, json.dumps(recipe))
    assert json.loads(P.recipe_in(png)) == recipe
    a, b = Image.open(io.BytesIO(plain)), Image.open(io.BytesIO(png))
    assert a.tobytes() == b.tobytes() and b.text["avatar-studio:recipe"] == P.recipe_in(png)
    with pytest.raises(ValueError, match="carries no Avatar Studio recipe"):
        P.recipe_in(plain)
    with pytest.raises(ValueError, match="not a PNG"):
        P.recipe_in(b"GIF89a....")
    assert P.recipe_text(json.dumps(recipe).encode()) == json.dumps(recipe)


def test_cli_design_takes_a_png_made_here_as_its_recipe(studio, tiny_weights, tmp_path, capsys):
    recipe = {"seed": 11, "spec": {"outfit": studio.attributes["outfit"][1]}, "size": 128, "frame": "circle"}
    source = tmp_path / "made-here.png"
    source.write_bytes(P.with_recipe(studio.render_png(recipe), json.dumps(recipe)))
    out = tmp_path / "again.png"
    assert main(["design", "--recipe", str(source), "--out", str(out), "--weights", str(tiny_weights)]) == 0
    assert out.read_bytes() == studio.render_png(recipe)
    plain = tmp_path / "plain.png"
    plain.write_bytes(studio.render_png(recipe))
    assert main(["design", "--recipe", str(plain), "--out", str(out), "--weights", str(tiny_weights)]) == 2
    assert "carries no Avatar Studio recipe" in capsys.readouterr().err


def test_an_uploaded_png_restores_the_design_and_the_upload_is_not_kept(designer, studio, tmp_path):
    recipe = {"seed": 77, "spec": {"hair": studio.attributes["hair"][2]}, "size": 256, "frame": "rounded"}
    upload = tmp_path / "avatar.png"
    upload.write_bytes(P.with_recipe(studio.render_png(recipe), json.dumps(recipe)))
    assert designer.open_file(str(upload)) == designer.form_of(recipe)
    assert not upload.exists()                                  # read in memory, then deleted


# ---- 3, 5: one-click download of the chosen export; a quick picture while editing --------------
def test_download_makes_the_export_at_the_chosen_size_frame_and_background_with_its_recipe(designer, studio):
    form = values(designer, {"seed": 3, "spec": {}}, size=512, frame="circle", background="colour",
                  background_color="#336699")
    image, text, code, expression, history = designer.step(dict(EMPTY_HISTORY), *form)
    download = designer.download(*form)                         # made at the click, from the controls
    assert download.endswith("avatar-3-512.png")
    data = open(download, "rb").read()
    assert Image.open(io.BytesIO(data)).size == (512, 512)
    assert json.loads(P.recipe_in(data)) == json.loads(text)
    assert Image.open(io.BytesIO(data)).tobytes() == Image.open(io.BytesIO(studio.render_png(text))).tobytes()
    assert json.loads(F.from_share_code(code))["frame"] == "circle" and history["now"] == text
    with pytest.raises(gr.Error, match="size"):
        designer.download(*values(designer, {"seed": 3, "spec": {}}, size=300))


def test_a_change_renders_only_the_quick_screen_picture_not_the_export(designer, studio):
    """Live path: the step's picture is render_live (<= 256 px, no upsampler), the export is not made."""
    for size in (128, 1024):
        form = values(designer, {"seed": 8, "spec": {}}, size=size, frame="rounded", border=True)
        image, text, *_ = designer.step(dict(EMPTY_HISTORY), *form)
        shown = Image.open(image)
        assert shown.size == (min(size, LIVE_SIZE),) * 2
        assert shown.tobytes() == studio.render_live(text).tobytes()
        assert shown.getpixel((0, 0))[3] == 0                   # the chosen frame shows
    small = studio.check_recipe({"seed": 8, "spec": {}, "size": 128, "frame": "circle"})
    assert studio.render_live(small).tobytes() == studio.render(small).tobytes()   # up to 256 px: the export


# ---- 2, 10: one clear message ----------------------------------------------------------------
def test_a_bad_recipe_is_one_warning_and_leaves_the_form_alone(designer, monkeypatch):
    said = []
    monkeypatch.setattr(gr, "Warning", said.append)
    for bad in ["{oops", "[]", json.dumps({"seed": 1, "spec": {"hair": "bobb"}}), "x" * 10_000, "\x00"]:
        out = designer.open_recipe(bad, "en")                   # no gr.Error: nothing on the page turns red
        assert len(out) == len(designer.fields) and all(isinstance(v, dict) and v.get("__type__") == "update"
                                                         for v in out)
    assert len(said) == 5 and all(s.startswith("This recipe could not be opened: ") for s in said)
    assert "hair" in said[2] and "bob" in said[2]
    designer.open_recipe("{oops", "zh")
    assert said[-1].startswith("无法打开这个配方")
    for junk in [(None, "en"), ("x" * 100_000, "en"), ("{}", "fr")]:         # not from the page: an error
        with pytest.raises(gr.Error):
            designer.open_recipe(*junk)


def test_morph_with_nothing_saved_says_what_to_do_in_the_pages_language(designer):
    for lang, words in (("en", "Save a design as A"), ("zh", "保存为 A")):
        with pytest.raises(gr.Error, match=words):
            designer.morph("", "", 8, lang)


# ---- 7, 8: a friendly first face; randomise all, reset to any ----------------------------------
def test_the_first_face_smiles_without_moustache_or_eyepatch(designer, studio):
    start = designer.form.start
    happy = studio.expressions.get("happy")
    if happy:
        assert {k: start["spec"][k] for k in happy} == happy
    for part in ("facial_hair", "accessories"):
        if "none" in studio.attributes.get(part, []):
            assert start["spec"][part] == "none"
    config = designer.build().get_config_file()
    expression = next(c for c in config["components"] if c["props"].get("elem_id") == "expression")
    assert expression["props"]["value"] == (designer.match_expression(start["spec"]))


def test_randomise_all_and_reset_to_any(designer, studio):
    hair = studio.attributes["hair"][1]
    form = values(designer, {"seed": 9, "spec": {"hair": hair, "hair_color": "#a55728"}, "sliders":
                             {s: 1.0 for s in studio.sliders}, "size": 256, "frame": "circle"})
    out = dict(zip(designer.fields, designer.randomise_all(*form)))
    assert out["attr:hair"] == "any" and out["any:hair_color"] is True
    assert all(out[f"slider:{s}"] == 0.0 for s in studio.sliders)
    assert out["size"] == 256 and out["frame"] == "circle"              # export settings kept
    seeds = {dict(zip(designer.fields, designer.randomise_all(*form)))["seed"] for _ in range(5)}
    assert len(seeds) > 1
    reset = dict(zip(designer.fields, designer.reset_any(*form)))
    assert reset["seed"] == 9 and all(reset[f"attr:{a}"] == "any" for a in studio.attributes)
    assert all(reset[f"any:{c}"] for c in studio.colors)
    assert json.loads(designer.step(dict(EMPTY_HISTORY), *designer.reset_any(*form))[1])["spec"] == {}


# ---- 9: a short, stable share link --------------------------------------------------------------
def test_share_code_is_short_stable_and_opens_the_design(designer, studio):
    recipe = studio.check_recipe({"seed": 42, "spec": dict(designer.form.start["spec"]), "frame": "circle"})
    code = F.share_code(recipe.to_json())
    assert code == F.share_code(recipe.to_json()) and len(code) < 200
    assert code.replace("-", "").replace("_", "").isalnum()              # URL-safe as it is
    assert studio.check_recipe(F.from_share_code(code)) == recipe
    from types import SimpleNamespace
    assert designer.open_url("", SimpleNamespace(query_params={"r": code})) == designer.form_of(recipe)
    assert designer.open_url(code, SimpleNamespace(query_params={})) == designer.form_of(recipe)   # kept in the browser
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        assert designer.open_url("", SimpleNamespace(query_params={"r": "1garbage!"})) == \
            designer.form_of(designer.form.start)
    for bad in ["", "2abc", None, "1" + "A" * 30_000]:
        with pytest.raises(ValueError):
            F.from_share_code(bad)


def test_the_page_arrives_with_the_first_avatar_in_it(studio):
    """No empty box before the first event: the config carries the start avatar (a static file), the
    picture the first step shows; the page's HTML carries the same PNG (before Gradio has started)."""
    d = Designer(studio)
    demo = d.build()
    avatar = next(c for c in demo.get_config_file()["components"] if c["props"].get("elem_id") == "avatar")
    value = avatar["props"]["value"]
    assert value and value["path"].endswith(".webp")
    data = open(value["path"], "rb").read()
    first_step = d.step(dict(EMPTY_HISTORY), *d.form_of(d.form.start))[0]
    assert Image.open(io.BytesIO(data)).tobytes() == Image.open(first_step).tobytes()
    assert base64.b64encode(data).decode() in demo.first_paint


def test_randomise_and_reset_refuse_a_junk_form(designer):
    for junk in ([None] * len(designer.fields), ["x"] * 3):
        for fn in (designer.randomise_all, designer.reset_any):
            with pytest.raises(gr.Error):
                fn(*junk)


def test_the_pages_html_gets_the_first_avatar_and_nothing_else_changes():
    """FirstPaint puts the placeholder into GET / (Gradio's index page) only, with a right length."""
    import asyncio

    from avatar_studio.firstpaint import FirstPaint, placeholder

    async def app(scope, receive, send):
        page = scope["path"] == "/"
        body = b"<html><body><gradio-app></gradio-app></body></html>" if page else b'{"<gradio-app": 1}'
        kind = b"text/html; charset=utf-8" if page else b"application/json"
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-type", kind), (b"content-length", str(len(body)).encode())]})
        await send({"type": "http.response.body", "body": body[:10], "more_body": True})
        await send({"type": "http.response.body", "body": body[10:]})

    html = placeholder(b"RIFF-webp-bytes", {"en": "Your avatar", "zh": "你的头像"}, "abc")
    assert 'alt="Your avatar"' in html and 'data-start="abc"' in html and "http" not in html   # nothing fetched

    def get(path: str, method: str = "GET") -> tuple[dict, bytes]:
        sent = []

        async def send(message):
            sent.append(message)

        async def receive():
            return {"type": "http.request", "body": b""}
        asyncio.run(FirstPaint(app, html)({"type": "http", "method": method, "path": path}, receive, send))
        return dict(sent[0]["headers"]), b"".join(m.get("body", b"") for m in sent[1:])

    headers, body = get("/")
    assert body.startswith(b"<html><body><div id=\"first-avatar\"") and body.endswith(b"<gradio-app></gradio-app></body></html>")
    assert int(headers[b"content-length"]) == len(body) and body.count(b"first-avatar") >= 1
    for path, method in (("/config", "GET"), ("/", "HEAD")):
        headers, body = get(path, method)
        assert b"first-avatar" not in body and int(headers[b"content-length"]) == len(body)


def test_the_pages_start_up_events_cover_nothing_with_progress(studio):
    """The link / kept design and the kept language are read as the page starts: no progress overlay
    (a white cover over the avatar, every control spinning) while they run."""
    demo = Designer(studio).build()
    start_up = [f for f in demo.fns.values() if getattr(f.fn, "__name__", "") in ("open_url", "relabel_stored")]
    assert len(start_up) == 2 and all(f.show_progress == "hidden" for f in start_up)

"""The designer page: ``build_demo(studio) -> gr.Blocks``, layout and wiring only.

    demo = build_demo(AvatarStudio.from_pretrained())
    serving.launch(demo)              # queue sized for a 2-vCPU Space, no share link

Handlers are a few lines around one AvatarStudio call; what the controls mean is ``form.Form``
(gradio-free), their names in each language ``labels.Labels``, and how the page is served
``serving``. Widgets are built from the loaded model (its attributes, palettes, slider
directions and expression presets), so page and model cannot drift apart. Per-visitor state
(undo history, last variations) lives in gr.State; the shared studio holds nothing per user.

Two named endpoints are public for gradio_client and, with Gradio's MCP extra, as MCP tools:
``/design`` (recipe JSON -> PNG file, the bytes of ``studio.render_png``) and ``/variations``
(recipe JSON + locked attributes -> gallery of PNGs + their recipes). Every other event is
private to the page.
"""
from __future__ import annotations

import contextlib
import functools
import html
import inspect
import json
import os
import secrets
import tempfile
from contextvars import ContextVar
from pathlib import Path
from typing import Any, Callable, Sequence

import gradio as gr
from gradio import processing_utils
from gradio import utils as gradio_utils
from PIL import Image

from avatar_studio import form as F
from avatar_studio import pngrecipe as P
from avatar_studio.attributes import ANY, parse_color
from avatar_studio.controls import SLIDER_RANGE, TRUNCATION_RANGE
from avatar_studio.fair import check_work
from avatar_studio.fastpath import PAGE_JS as FAST_JS
from avatar_studio.fastpath import STEP_JS as AFTER_FAST_JS
from avatar_studio.fastpath import LivePictures, data_uri
from avatar_studio.firstpaint import placeholder
from avatar_studio.form import CUSTOM, EMPTY_HISTORY, Form
from avatar_studio.guard import HEAVY_LANE
from avatar_studio.imaging import webp_bytes
from avatar_studio.labels import LANGUAGES, Labels, check_language
from avatar_studio.messages import translate
from avatar_studio.recipe import FRAMES, MAX_RECIPE_BYTES, SEED_RANGE, SIZES
from avatar_studio.serving import SETTINGS
from avatar_studio.studio import AvatarStudio
from avatar_studio.styles import DEFAULT_STYLE

MORPH_FRAMES = 16
MORPH_MAX_FRAMES = 32                   # 62 pictures: within one request's work (fair.py)

# Event settings: three lanes (queue concurrency groups), each served in turn by client
# (guard.py). The live design (one avatar) never waits behind expensive work (many avatars:
# variations, previews, sticker packs, morphs); bookkeeping waits behind neither, two at a time.
# Handlers get raw values and check them themselves (the studio's messages are the clear
# ones): a component's own preprocess would turn odd types into tracebacks first.
SLOW = {"concurrency_id": "design", "api_visibility": "private", "preprocess": False}
HEAVY = {**SLOW, "concurrency_id": HEAVY_LANE}
QUICK = {"concurrency_id": "quick", "concurrency_limit": 2, "api_visibility": "private", "preprocess": False}

# Colour swatches: a row of buttons named in the page's language (a screen reader says "Auburn",
# not "#a55728"); a click sets the component's value and fires .click.
SWATCH_HTML = ('<div class="swatch-row" role="group" aria-label="${label}">${swatches.map(s => `<button type="button" '
               'class="swatch" title="${s.name}" aria-label="${s.name}" data-color="${s.color}" '
               'style="background:${s.color}"></button>`).join("")}</div>')
SWATCH_JS = ("element.addEventListener('click', (e) => { const c = e.target.dataset && e.target.dataset.color; "
             "if (c) { props.value = c; trigger('click'); } });")
# Dropdowns and the keyboard: focusing or clicking one selects its text, so typing replaces it and filters the
# choices ("hij" -> Hijab; not "Bunhij"); Tab and Shift+Tab go to the next / previous control
# (Gradio's option list, closing as focus leaves, would otherwise drop the focus on the page body).
KEYS_JS = ("() => { const combo = (el) => el && el.matches && el.matches('input[role=combobox]'); "
           "const pick = (e) => { if (combo(e.target)) setTimeout(() => e.target.select(), 0); }; "
           "document.addEventListener('focusin', pick); document.addEventListener('click', pick); "
           "document.addEventListener('keydown', (e) => { if (e.key !== 'Tab' || !combo(e.target)) return; "
           "const all = [...document.querySelectorAll('input, button, select, textarea, a[href], [tabindex]')]"
           ".filter(el => el.tabIndex >= 0 && !el.disabled && !el.closest('.options') && el.getClientRects().length); "
           "const i = all.indexOf(e.target); const next = all[i + (e.shiftKey ? -1 : 1)]; "
           "if (i < 0 || !next) return; e.preventDefault(); e.target.blur(); next.focus(); }, true); }")
# The share link (?r=<short code>) goes into the address bar too, and the design into the browser's
# storage (localStorage), so a reload brings it back; the page's own state is never sent anywhere else.
LINK_JS = ("(code) => { if (!code) return ''; const u = window.location.origin + window.location.pathname + '?r=' + code; "
           "history.replaceState(null, '', u); try { localStorage.setItem('avatar-studio:r', code); } catch (e) {} "
           "return u; }")
LANG_KEEP_JS = "(lang) => { try { localStorage.setItem('avatar-studio:lang', lang); } catch (e) {} return lang; }"
LANG_STORED_JS = "() => { try { return localStorage.getItem('avatar-studio:lang') || 'en'; } catch (e) { return 'en'; } }"
# The avatar <img> gets the avatar box's own (translated) label as its alt text, whenever it changes.
ALT_JS = ("() => { const box = document.querySelector('#avatar'); if (!box) return; const name = () => { "
          "const img = box.querySelector('img'); const label = box.querySelector('[data-testid=block-label]'); "
          "if (img && label && img.alt !== label.textContent.trim()) img.alt = label.textContent.trim(); }; "
          "name(); new MutationObserver(name).observe(box, {subtree: true, childList: true, attributes: true, "
          "characterData: true}); }")
# The Download button's file, once made, is saved as a link click would (the name says seed and size).
# The event that made it hands over its path as text (no event of the page takes a file but the upload
# button); Gradio serves its cache folder at gradio_api/file=, relative to the page (guard.FILE_ROUTE).
SAVE_JS = ("(path) => { if (!path) return; const a = document.createElement('a'); "
           "a.href = 'gradio_api/file=' + encodeURI(path); a.download = path.split('/').pop(); "
           "document.body.appendChild(a); a.click(); a.remove(); }")
# Toast titles in the page's language: Gradio 6.31 heads a toast with its kind ("Error", "Warning", "Info"),
# not the title the server sends (gr.Error(title=...) is sent, never shown), so the page renames the heading
# as it appears, by the language chosen on the page (the toast's message is already translated).
TOAST_JS = ("() => { const titles = TITLES; const lang = () => { const c = document.querySelector('#language input:checked'); "
            "return c ? c.value : 'en'; }; const name = () => { const t = titles[lang()]; if (!t) return; "
            "document.querySelectorAll('.toast-title').forEach(el => el.childNodes.forEach(n => { "
            "if (n.nodeType !== 3) return; const k = n.data.trim(); if (t[k] && t[k] !== k) n.data = n.data.replace(k, t[k]); "
            "})); }; new MutationObserver(name).observe(document.body, {subtree: true, childList: true, characterData: true}); }")
# The style picker's thumbnails (the face in every style: a render a style, then a file each to fetch) follow the
# design once it has been still for STILL_MS, by a click on their hidden trigger: in a run of changes they would be
# made and fetched for every one, beside each change's live picture on a 2-core server (benchmarks.browser).
STILL_MS = 500
THUMBNAILS_JS = ("() => { const s = window.__avatarThumbs || (window.__avatarThumbs = {}); clearTimeout(s.timer); "
                 "s.timer = setTimeout(() => { const b = document.querySelector('#style-refresh'); "
                 f"if (b) b.click(); }}, {STILL_MS}); }}")
STORED_JS = ("() => { const q = new URLSearchParams(window.location.search); let s = '', lang = 'en'; "
             "try { s = localStorage.getItem('avatar-studio:r') || ''; "
             "lang = localStorage.getItem('avatar-studio:lang') || 'en'; } catch (e) {} "
             "return [lang, q.get('r') || q.get('recipe') ? '' : s]; }")   # (the kept language, for its messages)


def build_demo(studio: AvatarStudio) -> gr.Blocks:
    """The designer page for a loaded studio."""
    return Designer(studio).build()


def _message(text: str) -> str:
    """An error for the page: short, and with any HTML in echoed input made inert (toasts render HTML)."""
    return html.escape(text[:500], quote=False)


# The language of the page an event came from, for handlers that take none themselves (set per call by
# Designer.in_language, so it is the one visitor's and never outlives the call).
PAGE_LANGUAGE: ContextVar[str] = ContextVar("page_language", default="en")


def _user_errors(fn: Callable) -> Callable:
    """Bad input becomes gr.Error with the studio's own message, in the page's language (the handler's
    ``lang`` argument, else the language of the page the event came from): no traceback, nothing logged."""
    signature = inspect.signature(fn)

    @functools.wraps(fn)
    def wrapper(designer: "Designer", *args, **kwargs):
        try:
            return fn(designer, *args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, TypeError) as e:     # ValueError covers JSON and unicode errors
            lang = signature.bind_partial(designer, *args, **kwargs).arguments.get("lang", PAGE_LANGUAGE.get())
            raise gr.Error(designer.say(e, lang), title=designer.title(lang, "error"), print_exception=False) from None
    wrapper.says_errors = True              # (the page gives such a handler its language: a test holds this)
    return wrapper


def _start_file(png: bytes, name: str) -> str:
    """The start picture in a folder of its own (served as a static file, so the cache sweep never
    takes it): the page shows it the moment it loads, before any event has run."""
    folder = Path(tempfile.mkdtemp(prefix="avatar-studio-start-"))
    path = folder / name
    path.write_bytes(png)
    gr.set_static_paths([folder])
    return str(path)


def _known(lang: object) -> str:
    """A page's language; English for anything else (junk from outside the page)."""
    return lang if isinstance(lang, str) and lang in LANGUAGES else "en"


def _saved(*recipes: object) -> bool:
    """Whether every one of the designs saved as A and B is there (the morph and the breed need both)."""
    return all(isinstance(r, str) and r.strip() for r in recipes)


def inline_image(webp: bytes, name: str) -> dict:
    """An image output's value that carries its picture (a data: URI), for an event wired with
    postprocess=False: no file is written and the browser makes no second request for it."""
    return {"url": data_uri(webp), "orig_name": name, "mime_type": "image/webp"}


def _save(data: bytes, name: str) -> str:
    """Bytes into Gradio's cache folder (which the sweep empties); returns the path to serve."""
    return processing_utils.save_bytes_to_cache(data, name, gradio_utils.get_upload_folder())


class Designer:
    """The page: handlers (plain values in and out, tested directly) and the layout that wires them."""

    def __init__(self, studio: AvatarStudio, labels: Labels | None = None):
        self.studio = studio
        self.labels = labels or Labels.load()
        self.form = Form(studio)
        self.live = LivePictures(self.form)     # the step's picture, shared with the page's fast path
        self.attributes, self.colors, self.sliders = self.form.attributes, self.form.colors, self.form.sliders
        self.expressions, self.parts, self.names = self.form.expressions, self.form.parts, self.form.names
        self.fields = self.form.fields
        self._texts: list[tuple[Any, Callable[[str], dict]]] = []     # (widget, its props in a language)

    def say(self, error: Exception | str, lang: object) -> str:
        """An error or note for the page, in its language (English when the language is not a known one)."""
        return _message(translate(self.labels, _known(lang), str(error)))

    def title(self, lang: object, kind: str) -> str:
        """The title of a toast ("error", "warning", "info") in the page's language."""
        return self.labels.ui(_known(lang), f"{kind}_title")

    def warn(self, lang: object, text: str) -> None:
        gr.Warning(text, title=self.title(lang, "warning"))

    def inform(self, lang: object, text: str) -> None:
        gr.Info(text, title=self.title(lang, "info"))

    def toast_js(self) -> str:
        """TOAST_JS with each language's toast titles (Gradio's English heading -> the page's)."""
        titles = {lang: {kind.capitalize(): self.title(lang, kind) for kind in ("error", "warning", "info")}
                  for lang in LANGUAGES}
        return TOAST_JS.replace("TITLES", json.dumps(titles, ensure_ascii=False))

    def in_language(self, handler: Callable) -> Callable:
        """A handler for an event that gives the page's language first (``lang`` added to its inputs):
        the handler runs as before, and what it says (errors, notes) is in that language."""
        signature = inspect.signature(handler)

        def run(lang: str, *args: Any) -> Any:
            token = PAGE_LANGUAGE.set(_known(lang))
            try:
                return handler(*args)
            finally:
                PAGE_LANGUAGE.reset(token)
        functools.update_wrapper(run, handler)   # its name, and the annotations Gradio reads (gr.SelectData)
        run.__signature__ = signature.replace(parameters=[
            inspect.Parameter("lang", inspect.Parameter.POSITIONAL_ONLY), *signature.parameters.values()])
        return run

    def form_of(self, recipe, lang: str | None = None) -> list:
        """Control values showing a recipe; a recipe of another model version says so in a toast. On a page of
        several styles, the attribute and colour controls become those of the recipe's style (named in ``lang``,
        default: the language of the page the event came from)."""
        lang = PAGE_LANGUAGE.get() if lang is None else _known(lang)
        values, note = self.form.values_of(recipe)
        if note:
            self.inform(lang, self.say(note, lang))    # (made inert: toasts render HTML, the note echoes the recipe's model)
        return self.style_controls(values, lang) if self.form.multi else values

    def match_expression(self, spec: dict) -> str:
        return self.form.match_expression(spec)

    # ---- handlers: live design ---------------------------------------------------------------
    @_user_errors
    def step(self, history: dict, *values: Any) -> tuple[str, str, str, str, dict]:
        """Render what the controls say for the screen (``studio.render_live``: the chosen frame and
        background, at most 256 px, no upsampler; lossless WebP, inline in the reply); recorded for
        undo. The export is made on Download. The page's fast path (fastpath.py) shows the same picture first."""
        r, webp = self.live.picture(values)
        image = inline_image(webp, f"avatar-{r.seed}-live.webp")
        return image, r.to_json(), F.share_code(r.to_json()), self.form.match_expression(r.spec), F.push(history, r.to_json())

    @_user_errors
    def step_and_steer(self, history: dict, *values: Any) -> tuple:
        """``step``'s outputs and then ``show_steer``'s for its recipe: the page's one event a change (the picker
        and sliders as a second event, on the recipe's change, were a second queue round trip every change)."""
        out = self.step(history, *values)
        return (*out, *self.show_steer(out[1]))

    @_user_errors
    def download(self, *values: Any) -> str:
        """The Download button's file, made at the click from what the controls say: the export at the
        chosen size, frame and background, its recipe in a PNG text chunk."""
        r = self.studio.check_recipe(self.form.recipe_of(values))
        return _save(P.with_recipe(self.studio.render_png(r), r.to_json()), f"avatar-{r.seed}-{r.size}.png")

    @_user_errors
    def save_design(self, *values: Any) -> str:
        """"Save current as A / B": the recipe of what the controls say at the click. Not a copy of the
        recipe box: the fast path shows a change's picture before the queued step updates that box, and a
        click in between saved the design before the change."""
        return self.studio.check_recipe(self.form.recipe_of(values)).to_json()

    @_user_errors
    def set_expression(self, name: str, style: str | None = None) -> list:
        """Eyes, eyebrows and mouth of an expression preset of the page's style ("any" frees all three);
        "custom" keeps them and opens the eyes, eyebrows and mouth controls, to set them one by one."""
        parts = self.form.expression_parts(name, style)
        if parts is None:
            return [gr.skip() for _ in self.parts] + [gr.update(open=True)]
        return parts + [gr.skip()]

    @_user_errors
    def randomise_all(self, *values: Any) -> list:
        """Every choice and colour to "any" on a fresh seed (export settings kept)."""
        return self.form.randomised(values, self.roll_seed())

    @_user_errors
    def reset_any(self, *values: Any) -> list:
        """Every choice and colour back to "any" (same seed)."""
        return self.form.reset(values)

    def roll_seed(self) -> int:
        """A fresh random seed (the dice button); the global RNG is left alone."""
        lo, hi = SEED_RANGE
        return lo + secrets.randbelow(hi - lo + 1)

    @_user_errors
    def use_color(self, color: str) -> bool:
        """A colour picked by hand: untick its "any" box."""
        parse_color("colour", color)
        return False

    @_user_errors
    def use_swatch(self, color: str) -> tuple[str, bool]:
        """A palette swatch clicked: it becomes the picker's colour, and "any" is unticked."""
        return parse_color("colour", color), False

    @_user_errors
    def steer(self, color: str, *values: Any) -> list[float]:
        """The hat & glasses colour picked: the slider values that paint it (for this seed and spec)."""
        sliders = self.studio.steer_color(self.form.recipe_of(values), color)
        return [sliders[s] for s in self.sliders]

    def steers(self, recipe: dict | str) -> bool:
        """Whether the hat & glasses colour picker and the slider directions change anything on this design:
        the main style's face (the page's sliders are its directions) wearing a hat or glasses (``studio.steers``)."""
        r = self.studio.check_recipe(recipe)
        return r.spec.get("style", DEFAULT_STYLE) == self.form.main and self.studio.steers(r)

    @_user_errors
    def show_steer(self, recipe: str) -> list[dict]:
        """The hat & glasses colour picker and the sliders shown only where they colour something (``steers``);
        the picker showing the colour the face's hat or glasses has now."""
        r = self.studio.check_recipe(F.text("recipe", recipe))
        shown = self.steers(r)
        picker = gr.update(visible=True, value=self.studio.steered_color(r)) if shown else gr.update(visible=False)
        return [picker] + [gr.update(visible=shown) for _ in self.sliders]

    @_user_errors
    def use_background(self, color: str) -> str:
        """A background colour picked: switch the background from transparent to that colour."""
        parse_color("background", color)
        return "colour"

    @_user_errors
    def use_border(self, color: str) -> bool:
        """A border colour picked: switch the border on."""
        parse_color("border", color)
        return True

    @_user_errors
    def undo(self, history: dict, lang: str = "en") -> list:
        """Go one design step back (the image follows)."""
        return self._walk(history, F.undo(history), lang, "nothing_to_undo")

    @_user_errors
    def redo(self, history: dict, lang: str = "en") -> list:
        """Go one design step forward again."""
        return self._walk(history, F.redo(history), lang, "nothing_to_redo")

    def _walk(self, history: dict, moved: dict | None, lang: str, nothing: str) -> list:
        if moved is None:
            self.inform(lang, self.labels.ui(check_language(lang), nothing))
            return [gr.skip() for _ in self.fields] + [history]
        return self.form_of(moved["now"], lang) + [moved]

    # ---- handlers: recipes in ------------------------------------------------------------------
    def _opened(self, text: Callable[[], str], lang: object) -> list | None:
        """Controls showing a recipe, or, when it is bad, None and one clear warning (an error
        would mark every control of the form red until the next good render)."""
        try:
            return self.form_of(text(), lang)
        except (ValueError, TypeError) as e:             # ValueError covers JSON and unicode errors
            lang = _known(lang)
            ui = functools.partial(self.labels.ui, lang)
            self.warn(lang, f"{ui('recipe_error')}{ui('lead_separator')}{self.say(e, lang)}")
            return None

    @_user_errors
    def open_recipe(self, text: str, lang: str = "en") -> list:
        """Controls from a pasted recipe (what is not even text, or in no language, is an error)."""
        text, lang = F.text("recipe", text), check_language(lang)
        return self._opened(lambda: text, lang) or [gr.skip() for _ in self.fields]

    @_user_errors
    def open_file(self, path: str, lang: str = "en") -> list:
        """Controls from an uploaded recipe file or a PNG made here (read in memory up to a size limit,
        then the upload is deleted: nothing a visitor gives is kept)."""
        def read() -> str:
            if not isinstance(path, str):
                raise ValueError("upload one recipe file (.json) or a PNG made here")
            try:
                with open(path, "rb") as f:
                    data = f.read(P.MAX_PNG_BYTES + 1)
            finally:
                with contextlib.suppress(OSError):
                    os.remove(path)
            if len(data) > P.MAX_PNG_BYTES:
                raise ValueError(f"file is too large (at most {P.MAX_PNG_BYTES} bytes)")
            return P.recipe_text(data)
        return self._opened(read, check_language(lang)) or [gr.skip() for _ in self.fields]

    @_user_errors
    def open_url(self, stored: str, request: gr.Request) -> list:
        """Controls for a fresh page: the link's recipe (?r=<code>, or ?recipe=<json> of older links),
        else the design kept in this browser, else the start design."""
        if not (stored == "" or F.looks_like_share_code(stored)):
            raise ValueError("the design kept in this browser must be a share code (or nothing)")
        query = request.query_params if request is not None else {}
        code, text = query.get("r") or stored, query.get("recipe")
        opened = (lambda: F.from_share_code(code)) if code else (lambda: F.text("recipe", text))
        values = self._opened(opened, PAGE_LANGUAGE.get()) if code or text else None
        return values or self.form_of(self.form.start)

    # ---- handlers: pictures and files out -------------------------------------------------------
    @_user_errors
    def design(self, recipe: str) -> str:
        """Render a recipe to a PNG file: the same bytes as AvatarStudio.render_png(recipe).

        Args:
            recipe: the design as JSON text, e.g. {"seed": 42, "spec": {"hair": "bob", "hair_color": "#a55728"}, "size": 512, "frame": "circle"}; "spec" and "seed" are required, the rest have defaults.
        Returns:
            The path of the PNG file.
        """
        r = self.studio.check_recipe(F.text("recipe", recipe))
        return _save(self.studio.render_png(r), f"avatar-{r.seed}-{r.size}.png")

    @_user_errors
    def variations(self, recipe: str, locked: list[str]) -> tuple[list[tuple[Image.Image, str]], list[dict]]:
        """Eight avatars that keep the locked attributes of a recipe and vary everything else.

        Args:
            recipe: the design as JSON text, e.g. {"seed": 42, "spec": {"hair": "bob"}}.
            locked: attribute names to keep as the recipe shows them, e.g. ["hair", "skin_color"].
        Returns:
            A gallery of the eight PNGs (captioned with their seeds) and the recipe of each.
        """
        if not isinstance(locked, list) or not all(isinstance(k, str) for k in locked):
            raise ValueError("locked must be a list of attribute names, e.g. [\"hair\", \"skin_color\"]")
        pairs = self.studio.variations(F.text("recipe", recipe), locked)
        return [(im, f"seed {r.seed}") for r, im in pairs], [r.to_dict() for r, _ in pairs]

    @_user_errors
    def adopt(self, recipes: list, evt: gr.SelectData) -> list:
        """Clicking a variation puts its seed and choices into the controls."""
        if not isinstance(recipes, list):
            raise ValueError("no variations to pick from yet")
        return self.form_of(recipes[F.picked(getattr(evt, "index", None), len(recipes))])

    @_user_errors
    def preview(self, recipe: str, attribute: str, lang: str) -> tuple[list[tuple[Image.Image, str]], str]:
        """Every choice of one attribute on the current face, captioned in the page's language."""
        lang = check_language(lang)
        pairs = self.studio.preview(F.text("recipe", recipe), attribute)
        return [(im, self.labels.choice(lang, attribute, c)) for c, im in pairs], attribute

    @_user_errors
    def pick_preview(self, attribute: str, recipe: str, evt: gr.SelectData) -> list:
        """Clicking a preview picks that choice for the attribute."""
        return self.form_of(self.form.with_choice(F.text("recipe", recipe), attribute, getattr(evt, "index", None)))

    @_user_errors
    def sticker_pack(self, recipe: str) -> str:
        """A ZIP of PNGs: this face in every expression preset (and in every style, on a page of several)."""
        r = self.studio.check_recipe(F.text("recipe", recipe))
        styles = self.form.styles if self.form.multi else [self.form.main]
        check_work("a sticker pack", sum(len(self.form.presets(s)) for s in styles), r.size)
        return _save(self.studio.sticker_pack(r, every_style=self.form.multi), f"stickers-{r.seed}.zip")

    @_user_errors
    def recipe_file(self, recipe: str) -> str:
        """The recipe as a .json file to keep or share."""
        r = self.studio.check_recipe(F.text("recipe", recipe))
        return _save((json.dumps(r.to_dict(), indent=1) + "\n").encode("utf-8"), f"avatar-{r.seed}.json")

    @_user_errors
    def morph(self, recipe_a: str, recipe_b: str, frames: float, lang: str = "en") -> str:
        """An animated GIF walking from recipe A to recipe B and back."""
        if not _saved(recipe_a, recipe_b):
            self.warn(lang, self.labels.ui(check_language(lang), "morph_needs_ab"))
            return gr.skip()
        frames = F.whole("frames", frames, 2, MORPH_MAX_FRAMES)
        a = self.studio.check_recipe(F.text("recipe A", recipe_a))
        check_work("a morph", 2 * frames - 2, min(a.size, 256))
        return _save(self.studio.morph(a, F.text("recipe B", recipe_b), frames), "morph.gif")

    @_user_errors
    def breed(self, recipe_a: str, recipe_b: str, from_a: list[str], from_b: list[str],
              lang: str = "en") -> tuple[list, list[dict]]:
        """Eight children of the designs saved as A and B: the parts ticked under A come from A, those under
        B from B, and each child takes every other part from one of them at random."""
        lang = check_language(lang)
        if not _saved(recipe_a, recipe_b):
            self.warn(lang, self.labels.ui(lang, "breed_needs_ab"))   # a note, not a red error on the gallery
            return gr.skip(), gr.skip()
        pairs = self.studio.breed(F.text("recipe A", recipe_a), F.text("recipe B", recipe_b), from_a, from_b)
        seed = self.labels.ui(lang, "seed")
        return [(im, f"{seed} {r.seed}") for r, im in pairs], [r.to_dict() for r, _ in pairs]

    # ---- handlers: language ---------------------------------------------------------------------
    @_user_errors
    def relabel(self, lang: str) -> list:
        """Every label, choice name and button text of the page in another language."""
        lang = check_language(lang)
        return [gr.update(**props(lang)) for _, props in self._texts]

    @_user_errors
    def relabel_stored(self, lang: str) -> list:
        """The language this browser chose last time (nothing to change for English)."""
        return [gr.skip() for _ in self._texts] if lang == "en" else self.relabel(lang)

    def choices(self, lang: str, attribute: str, style: str | None = None) -> list[tuple[str, str]]:
        """Dropdown choices of an attribute (in a style; default: as the page starts): ("any" first) as (label, id)."""
        ids = self.attributes[attribute] if style is None else self.studio.style_controls(style).get(attribute, [])
        return [(self.labels.choice(lang, attribute, ANY), ANY)] + [
            (self.labels.choice(lang, attribute, c), c) for c in ids]

    def expression_choices(self, lang: str) -> list[tuple[str, str]]:
        """Every style's presets (the main style's first); a preset its style lacks is refused by name."""
        names = [ANY, *dict.fromkeys(n for s in self.form.styles for n in self.form.presets(s)), CUSTOM]
        return [(self.labels.expression(lang, n), n) for n in names]

    def swatch_props(self, lang: str, name: str) -> dict:
        """A colour's swatch row: its colours with their names, and the row's name, in a language."""
        return {"swatches": [{"color": c, "name": self.labels.colour(lang, c)} for c in self.form.swatches[name]],
                "label": self.labels.ui(lang, "swatches_of").format(name=self.labels.attribute(lang, name))}

    def attribute_choices(self, lang: str, names: Sequence[str]) -> list[tuple[str, str]]:
        return [(self.labels.attribute(lang, n), n) for n in names]

    # ---- layout ------------------------------------------------------------------------------
    def _t(self, component, **keys: str):
        """Register a component whose props (label, value, info) are UI strings by key."""
        self._texts.append((component, lambda lang: {prop: self.labels.ui(lang, key) for prop, key in keys.items()}))
        return component

    def _tf(self, component, props: Callable[[str], dict]):
        """Register a component whose translated props come from ``props(lang)``."""
        self._texts.append((component, props))
        return component

    def build(self) -> gr.Blocks:
        """Lay out the page (controls left; avatar and tools right) and wire every event."""
        self.w: dict[str, Any] = {}     # widgets by name; the form's widgets are named as self.fields
        self._texts = []
        with gr.Blocks(title="Avatar Studio", analytics_enabled=False, delete_cache=SETTINGS.delete_cache) as demo:
            with gr.Row(equal_height=True):
                self._t(gr.Markdown(self.labels.ui("en", "title")), value="title")
                self.w["lang"] = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en",
                                          label="Language / 语言", scale=0, min_width=180, elem_id="language")
            start = dict(zip(self.fields, self.form.values_of(self.form.start)[0]))
            self._style_picker(start, "en")
            with gr.Row(elem_id="main-row"):
                with gr.Column(scale=2, min_width=320, elem_id="controls-col"):
                    self._design_controls(start, "en")
                with gr.Column(scale=3, min_width=320, elem_id="avatar-col"):   # pinned (style.css)
                    self._avatar(start, "en")
            self._tools("en")
            self._style_credits()
            self._wire(demo)
        demo.first_paint = self.first_paint            # serving.launch puts it in the page's HTML
        demo.live_pictures = self.live                 # ... and answers the fast path's pictures of it
        return demo

    def _design_controls(self, start: dict, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        with self._t(gr.Accordion(ui("design")), label="design"):
            w["expression"] = self._tf(
                gr.Dropdown(self.expression_choices(lang), value=self.form.match_expression(self.form.start["spec"]),
                            label=ui("expression"),
                            info=ui("expression_info"), visible=bool(self.expressions), elem_id="expression"),
                lambda lang: {"choices": self.expression_choices(lang), "label": self.labels.ui(lang, "expression"),
                              "info": self.labels.ui(lang, "expression_info")})
            for a in self.attributes:
                if a not in self.parts:
                    self._attribute_dropdown(a, start, lang)
            with self._t(gr.Accordion(ui("advanced"), open=False, visible=bool(self.parts), elem_id="advanced"),
                         label="advanced") as w["advanced"]:
                for a in self.parts:
                    self._attribute_dropdown(a, start, lang)
        with self._t(gr.Accordion(ui("colors")), label="colors"):
            for name in self.colors:
                with gr.Row(equal_height=True):
                    w[f"color:{name}"] = self._tf(
                        gr.ColorPicker(start[f"color:{name}"], label=self.labels.attribute(lang, name),
                                       min_width=120, elem_id=f"color-{name}"),
                        functools.partial(lambda name, lang: {"label": self.labels.attribute(lang, name)}, name))
                    w[f"any:{name}"] = self._t(gr.Checkbox(start[f"any:{name}"], label=ui("let_model_choose"),
                                                           min_width=80, elem_id=f"any-{name}"),
                                               label="let_model_choose")
                if self.form.swatches.get(name):
                    w[f"swatches:{name}"] = self._tf(
                        gr.HTML("", html_template=SWATCH_HTML, js_on_load=SWATCH_JS, elem_id=f"swatches-{name}",
                                **self.swatch_props(lang, name)),
                        functools.partial(self.swatch_props, name=name))
            steers = bool(self.sliders) and self.steers(self.form.start)   # (the sliders below show with it)
            if self.sliders:       # a colour the vocabulary does not condition, reached through the sliders
                w["steer"] = self._t(gr.ColorPicker(self.studio.steered_color(self.form.start), label=ui("steer_color"),
                                                    info=ui("steer_color_info"), elem_id="steer-color",
                                                    visible=steers),
                                     label="steer_color", info="steer_color_info")
        with self._t(gr.Accordion(ui("latent")), label="latent"):
            with gr.Row(equal_height=True):
                w["seed"] = self._t(gr.Number(start["seed"], label=ui("seed"), precision=0, minimum=SEED_RANGE[0],
                                              maximum=SEED_RANGE[1], elem_id="seed"), label="seed")
                w["dice"] = self._t(gr.Button(ui("dice"), scale=0, min_width=140, elem_id="dice"), value="dice")
            w["truncation"] = self._t(gr.Slider(*TRUNCATION_RANGE, value=start["truncation"], step=0.05,
                                                label=ui("creativity"), info=ui("creativity_info"),
                                                elem_id="creativity"), label="creativity", info="creativity_info")
            for i, s in enumerate(self.sliders):      # shown with the picker (show_steer)
                w[f"slider:{s}"] = self._tf(
                    gr.Slider(*SLIDER_RANGE, value=0.0, step=0.1, label=self.labels.slider(lang, s),
                              visible=steers, elem_id=f"slider-{i}"),
                    functools.partial(lambda s, lang: {"label": self.labels.slider(lang, s)}, s))

    def _attribute_dropdown(self, attribute: str, start: dict, lang: str) -> None:
        self.w[f"attr:{attribute}"] = self._tf(
            gr.Dropdown(self.choices(lang, attribute), value=start[f"attr:{attribute}"],
                        label=self.labels.attribute(lang, attribute), elem_id=f"attr-{attribute}"),
            # (several styles: the choices follow the shown style, re-shown in the new language by _wire_styles)
            lambda lang: {**({} if self.form.multi else {"choices": self.choices(lang, attribute)}),
                          "label": self.labels.attribute(lang, attribute)})

    def _avatar(self, start: dict, lang: str) -> None:
        """The big live avatar, the Download button (it makes the export at the click), its buttons, download options."""
        ui, w = functools.partial(self.labels.ui, lang), self.w
        w["history"], w["previewed"] = gr.State(EMPTY_HISTORY), gr.State(None)
        begin = self.studio.check_recipe(self.form.recipe_of([start[f] for f in self.fields]))   # as step makes it
        start_picture = webp_bytes(self.studio.render_live(begin))
        first = _start_file(start_picture, "avatar-start-live.webp")   # no empty box while the page wakes up
        # ... and none before Gradio's front end has started: the start avatar in the page's HTML
        self.first_paint = placeholder(start_picture, {lang: self.labels.ui(lang, "avatar") for lang in LANGUAGES},
                                       F.share_code(begin.to_json()))
        w["image"] = self._t(gr.Image(first, type="filepath", format="png", interactive=False, label=ui("avatar"),
                                      buttons=["fullscreen"], elem_id="avatar"), label="avatar")
        # the export is made at the click (step renders only the screen's picture), then saved by SAVE_JS
        w["download"] = self._t(gr.DownloadButton(ui("download"), None, variant="primary", size="lg",
                                                  elem_id="download"), label="download")
        w["saved"] = gr.Textbox(visible=False, elem_id="saved-file")      # the path of the file made
        with gr.Row(elem_id="avatar-buttons"):
            w["randomise"] = self._t(gr.Button(ui("randomise_all"), size="sm", elem_id="randomise"),
                                     value="randomise_all")
            w["reset"] = self._t(gr.Button(ui("reset_any"), size="sm", elem_id="reset"), value="reset_any")
            w["undo"] = self._t(gr.Button(ui("undo"), size="sm", elem_id="undo"), value="undo")
            w["redo"] = self._t(gr.Button(ui("redo"), size="sm", elem_id="redo"), value="redo")
        with self._t(gr.Accordion(ui("export"), open=False, elem_id="export-options"), label="export"):
            self._export_tab(start, lang)

    def _tools(self, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        with gr.Tabs(overflow_behavior="wrap", elem_id="tools"):     # every tab one tap away on a phone (no "More tabs")
            with self._t(gr.Tab(ui("variations"), elem_id="tab-variations"), label="variations"):
                w["locked"] = self._tf(
                    gr.Dropdown(self.attribute_choices(lang, self.names), value=[], multiselect=True,
                                label=ui("locked"), elem_id="locked"),
                    lambda lang: {"choices": self.attribute_choices(lang, self.names),
                                  "label": self.labels.ui(lang, "locked")})
                w["vary"] = self._t(gr.Button(ui("vary"), variant="primary", elem_id="vary"), value="vary")
                w["var_gallery"] = self._t(gr.Gallery(format="png", columns=4, allow_preview=False,
                                                      label=ui("variations_info"), elem_id="variations"),
                                           label="variations_info")
                w["var_recipes"] = gr.JSON([], visible=False)
            with self._t(gr.Tab(ui("preview"), elem_id="tab-preview"), label="preview"):
                with gr.Row(equal_height=True):
                    w["preview_of"] = self._tf(
                        gr.Dropdown(self.attribute_choices(lang, self.attributes), value=next(iter(self.attributes)),
                                    label=ui("preview_attribute"), elem_id="preview-attribute"),
                        lambda lang: {"choices": self.attribute_choices(lang, self.attributes),
                                      "label": self.labels.ui(lang, "preview_attribute")})
                    w["show_all"] = self._t(gr.Button(ui("show_all"), elem_id="show-all"), value="show_all")
                w["strip"] = self._t(gr.Gallery(format="png", columns=4, allow_preview=False, label=ui("preview_info"),
                                                elem_id="preview", elem_classes=["picture-grid"]),
                                     label="preview_info")
            with self._t(gr.Tab(ui("share"), elem_id="tab-share"), label="share"):
                self._share_tab(lang)
            with self._t(gr.Tab(ui("morph"), elem_id="tab-morph"), label="morph"):
                with gr.Row():
                    w["save_a"] = self._t(gr.Button(ui("save_a")), value="save_a")
                    w["save_b"] = self._t(gr.Button(ui("save_b")), value="save_b")
                with gr.Row():
                    for key in ("recipe_a", "recipe_b"):
                        w[key] = self._t(gr.Textbox(label=ui(key), lines=2, max_length=MAX_RECIPE_BYTES), label=key)
                w["frames"] = self._t(gr.Slider(2, MORPH_MAX_FRAMES, value=MORPH_FRAMES, step=1, label=ui("frames")),
                                      label="frames")
                w["make_morph"] = self._t(gr.Button(ui("make_morph"), variant="primary"), value="make_morph")
                w["morph_out"] = self._t(gr.Image(type="filepath", interactive=False, label=ui("morph_result")),
                                         label="morph_result")
                self._breed_section(lang)

    def _breed_section(self, lang: str) -> None:
        """Breed the designs saved as A and B: which parts come from A, which from B, and eight children."""
        ui, w = functools.partial(self.labels.ui, lang), self.w
        self._tf(gr.Markdown(f"### {ui('breed')}"), lambda lang: {"value": f"### {self.labels.ui(lang, 'breed')}"})
        for key in ("from_a", "from_b"):
            w[key] = self._tf(
                gr.CheckboxGroup(self.attribute_choices(lang, self.names), value=[], label=ui(key),
                                 info=ui("breed_info"), elem_id=key.replace("_", "-")),
                functools.partial(lambda key, lang: {"choices": self.attribute_choices(lang, self.names),
                                                     "label": self.labels.ui(lang, key),
                                                     "info": self.labels.ui(lang, "breed_info")}, key))
        w["make_children"] = self._t(gr.Button(ui("make_children"), variant="primary", elem_id="make-children"),
                                     value="make_children")
        w["children"] = self._t(gr.Gallery(format="png", columns=4, allow_preview=False, label=ui("children"),
                                           elem_id="children", elem_classes=["picture-grid"]), label="children")
        w["child_recipes"] = gr.JSON([], visible=False)

    def _export_tab(self, start: dict, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        w["size"] = self._t(gr.Radio(list(SIZES), value=start["size"], label=ui("size"), elem_id="size"),
                            label="size")
        with gr.Row(equal_height=True):
            w["background"] = self._tf(
                gr.Radio(self._background_choices(lang), value=start["background"], label=ui("background"),
                         elem_id="background"),
                lambda lang: {"choices": self._background_choices(lang), "label": self.labels.ui(lang, "background")})
            w["background_color"] = self._t(gr.ColorPicker(start["background_color"], label=ui("background_color"),
                                                           elem_id="background-color"), label="background_color")
        with gr.Row(equal_height=True):
            w["frame"] = self._tf(
                gr.Radio(self._frame_choices(lang), value=start["frame"], label=ui("frame"), elem_id="frame"),
                lambda lang: {"choices": self._frame_choices(lang), "label": self.labels.ui(lang, "frame")})
            w["border"] = self._t(gr.Checkbox(start["border"], label=ui("border"), elem_id="border"), label="border")
            w["border_color"] = self._t(gr.ColorPicker(start["border_color"], label=ui("border_color"),
                                                       elem_id="border-color"), label="border_color")
        # /design (the public API) keeps its own button and file, out of sight: the page downloads with one click
        w["export"] = gr.Button(ui("export_png"), visible=False, elem_id="export")
        w["png_file"] = gr.File(interactive=False, visible=False, elem_id="png-file")
        w["stickers"] = self._t(gr.Button(ui("sticker_pack"), size="sm", elem_id="stickers"), value="sticker_pack")
        w["zip_file"] = self._t(gr.File(label=ui("stickers_file"), interactive=False, height=60,
                                        elem_id="stickers-file"), label="stickers_file")

    def _share_tab(self, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        w["recipe"] = self._t(gr.Textbox(label=ui("recipe"), interactive=False, lines=3, buttons=["copy"],
                                         elem_id="recipe"), label="recipe")
        w["link"] = self._t(gr.Textbox(label=ui("link"), interactive=False, buttons=["copy"], elem_id="link"),
                            label="link")
        w["code"] = gr.Textbox(elem_id="share-code", elem_classes=["out-of-sight"], container=False)
        with gr.Row(equal_height=True):
            w["save_recipe"] = self._t(gr.Button(ui("download_recipe"), size="sm", scale=0, min_width=160,
                                                 elem_id="save-recipe"), value="download_recipe")
            w["recipe_file"] = self._t(gr.File(label=ui("recipe_file"), interactive=False, height=60),
                                       label="recipe_file")
        w["paste"] = self._t(gr.Textbox(label=ui("paste"), lines=3, max_length=MAX_RECIPE_BYTES, elem_id="paste"),
                             label="paste")
        with gr.Row():
            w["open_recipe"] = self._t(gr.Button(ui("open_recipe"), elem_id="open-recipe"), value="open_recipe")
            w["upload"] = self._t(gr.UploadButton(ui("upload_recipe"), file_types=[".json", ".png"], type="filepath",
                                                  elem_id="upload"), label="upload_recipe")

    # ---- wiring --------------------------------------------------------------------------------
    def _wire(self, demo: gr.Blocks) -> None:
        w = self.w
        form = [w[f] for f in self.fields]
        history, recipe, lang = w["history"], w["recipe"], w["lang"]
        quick = self._on_avatar(QUICK)
        said = self.in_language             # a handler taking no language: its errors in the page's, given first
        # the step, and where the hat & glasses picker is, the picker and sliders shown as they colour something
        steer = [w["steer"], *(w[f"slider:{s}"] for s in self.sliders)] if "steer" in w else []
        step = {"fn": said(self.step_and_steer if steer else self.step), "inputs": [lang, history, *form],
                "outputs": [w["image"], recipe, w["code"], w["expression"], history, *steer],
                "show_progress": "minimal", "postprocess": False, **self._on_avatar(SLOW)}

        def then_step(event):
            return event.success(**step)

        # live update: every hand-made change re-renders; while one runs, only the latest waits. The page
        # asks the fast path for the picture first (FAST_JS, no Python here): the front end runs the
        # events of one trigger in order, each waiting for the one before, so it goes before the step,
        # which lets the fast answer come before it joins the queue (AFTER_FAST_JS, at most a second)
        hand_made = [w[f].input for f in self.fields if f not in self._picked and f != "style"]
        gr.on(hand_made, None, [lang, *form], None, js=FAST_JS, trigger_mode="multiple", api_visibility="private")
        gr.on(hand_made, trigger_mode="always_last", js=AFTER_FAST_JS, **step)
        self._wire_styles(form, then_step)
        # a picker fires "input" while dragged; a hex code typed into it fires only "change" and, as the
        # picker closes, "blur" (so blur is heard too: typed colours render at once)
        for field, (fn, target) in self._picked.items():
            for event in (w[field].input, w[field].blur):
                then_step(event(said(fn), [lang, w[field]], w[target], trigger_mode="always_last", **quick))
        for name in self.colors:
            if f"swatches:{name}" in w:
                then_step(w[f"swatches:{name}"].click(said(self.use_swatch), [lang, w[f"swatches:{name}"]],
                                                      [w[f"color:{name}"], w[f"any:{name}"]], **quick))
        if steer:
            for event in (w["steer"].input, w["steer"].blur):
                then_step(event(said(self.steer), [lang, w["steer"], *form], [w[f"slider:{s}"] for s in self.sliders],
                                trigger_mode="always_last", **quick))
        then_step(w["expression"].input(said(self.set_expression),
                                        [lang, w["expression"], *([w["style"]] if "style" in w else [])],
                                        [*(w[f"attr:{a}"] for a in self.parts), w["advanced"]], **quick))
        then_step(w["dice"].click(self.roll_seed, None, w["seed"], **quick))
        then_step(w["randomise"].click(said(self.randomise_all), [lang, *form], form, **quick))
        then_step(w["reset"].click(said(self.reset_any), [lang, *form], form, **quick))
        then_step(w["undo"].click(self.undo, [history, lang], [*form, history], **quick))
        then_step(w["redo"].click(self.redo, [history, lang], [*form, history], **quick))

        # recipes in: the page's URL, a pasted recipe, an uploaded file (read through its component)
        # the page's own start-up events cover nothing with progress (the avatar shows throughout)
        then_step(demo.load(said(self.open_url), [lang, w["code"]], form, js=STORED_JS, show_progress="hidden", **quick))
        demo.load(None, None, None, js=ALT_JS, api_visibility="private")
        demo.load(None, None, None, js=KEYS_JS, api_visibility="private")
        demo.load(None, None, None, js=self.toast_js(), api_visibility="private")
        then_step(w["open_recipe"].click(self.open_recipe, [w["paste"], lang], form, **quick))
        then_step(w["upload"].upload(self.open_file, [w["upload"], lang], form, **{**quick, "preprocess": True}))
        w["code"].change(None, w["code"], w["link"], js=LINK_JS, api_visibility="private")

        # pictures and files out, each from the controls (or their recipe) as they are at the click;
        w["download"].click(said(self.download), [lang, *form], w["saved"], **SLOW).success(None, w["saved"], None, js=SAVE_JS,
                                                                                api_visibility="private")
        # /design and /variations are the public API (gradio_client)
        w["export"].click(**step).success(self.design, recipe, w["png_file"], api_name="design",
                                          **{**SLOW, "api_visibility": "public"})
        w["vary"].click(**step).success(self.variations, [recipe, w["locked"]], [w["var_gallery"], w["var_recipes"]],
                                        api_name="variations", **{**HEAVY, "api_visibility": "public"})
        then_step(w["var_gallery"].select(said(self.adopt), [lang, w["var_recipes"]], form, **quick))
        w["show_all"].click(**step).success(self.preview, [recipe, w["preview_of"], lang],
                                            [w["strip"], w["previewed"]], **HEAVY)
        then_step(w["strip"].select(said(self.pick_preview), [lang, w["previewed"], recipe], form, **quick))
        w["stickers"].click(**step).success(said(self.sticker_pack), [lang, recipe], w["zip_file"], **HEAVY)
        w["save_recipe"].click(**step).success(said(self.recipe_file), [lang, recipe], w["recipe_file"], **quick)
        for key in ("a", "b"):
            w[f"save_{key}"].click(said(self.save_design), [lang, *form], w[f"recipe_{key}"], **quick)
        w["make_morph"].click(self.morph, [w["recipe_a"], w["recipe_b"], w["frames"], lang], w["morph_out"], **HEAVY)
        w["make_children"].click(self.breed, [w["recipe_a"], w["recipe_b"], w["from_a"], w["from_b"], lang],
                                 [w["children"], w["child_recipes"]], **HEAVY)
        then_step(w["children"].select(said(self.adopt), [lang, w["child_recipes"]], form, **quick))
        texts = [component for component, _ in self._texts]
        lang.input(self.relabel, lang, texts, js=LANG_KEEP_JS, **{**QUICK, "show_progress_on": lang})
        demo.load(None, None, lang, js=LANG_STORED_JS, api_visibility="private").success(
            self.relabel_stored, lang, texts, show_progress="hidden", **{**QUICK, "show_progress_on": lang})

    # ---- art styles: the picker at the top (only on a page of several styles) ------------------------
    def style_controls(self, values: list, lang: str = "en") -> list:
        """Form values as updates that show the controls of their style: its choices, the rest hidden."""
        style = self.form.style_of(values)
        has = self.studio.style_controls(style)
        steers = self.steers(self.form.recipe_of(values))
        out = []
        for field, value in zip(self.fields, values):
            kind, _, name = field.partition(":")
            if kind == "attr":
                out.append(gr.update(value=value, choices=self.choices(lang, name, style), visible=name in has))
            elif kind in ("any", "color"):
                out.append(gr.update(value=value, visible=name in has))
            elif kind == "slider":       # the main style's directions, where they colour something
                out.append(gr.update(value=value, visible=steers))
            else:
                out.append(value)
        return out

    @_user_errors
    def switch_style(self, recipe: str, style: str, lang: str = "en") -> list:
        """The same person in another style (studio.restyle_recipe), shown in that style's controls."""
        lang = check_language(lang)
        return self.form_of(self.studio.restyle_recipe(F.text("recipe", recipe), F.text("style", style)), lang)

    @_user_errors
    def pick_style(self, recipe: str, lang: str, evt: gr.SelectData) -> list:
        """A thumbnail clicked: switch to its style."""
        return self.switch_style(recipe, self.form.styles[F.picked(getattr(evt, "index", None), len(self.form.styles))],
                                 lang)

    def style_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.labels.style(lang, s), s) for s in self.form.styles]

    @_user_errors
    def style_thumbnails(self, recipe: str, lang: str | None = None) -> list[tuple[Image.Image, str]]:
        """The current face in every style (native size), captioned with the style's name (in ``lang``, default:
        the language of the page the event came from)."""
        r = self.studio.check_recipe(F.text("recipe", recipe))
        lang = PAGE_LANGUAGE.get() if lang is None else check_language(lang)
        return [(self.studio.design_recipe(self.studio.restyle_recipe(r, s)), self.labels.style(lang, s))
                for s in self.form.styles]

    def _style_picker(self, start: dict, lang: str) -> None:
        """Thumbnails of the face in every style, and the style choice (a form field); hidden with one style."""
        w, multi = self.w, self.form.multi
        with self._t(gr.Accordion(self.labels.ui(lang, "style"), visible=multi, elem_id="style-picker"), label="style"):
            w["style_gallery"] = self._t(gr.Gallery(format="png", columns=max(len(self.form.styles), 1), rows=1,
                                                    allow_preview=False, buttons=[], label=self.labels.ui(lang, "style_info"),
                                                    elem_id="style-thumbnails"), label="style_info")
            if multi:
                w["style_refresh"] = gr.Button(elem_id="style-refresh", elem_classes=["out-of-sight"])   # THUMBNAILS_JS
                w["style"] = self._tf(gr.Radio(self.style_choices(lang), value=start["style"], show_label=False,
                                               elem_id="style"), lambda lang: {"choices": self.style_choices(lang)})

    def _style_credits(self) -> None:
        """The footer's credit line of each loaded style's artwork, as its DiceBear style file states it
        (several styles only; the credits of the first style are in the README and model card)."""
        lines = [f"- {s}: {html.escape(self.studio.model(s).vocab.credit.get('text', ''), quote=False)}"
                 for s in self.form.styles if self.studio.model(s).vocab.credit]
        gr.Markdown("\n".join(lines), visible=self.form.multi and bool(lines), elem_id="style-credits")

    def _wire_styles(self, form: list, then_step: Callable) -> None:
        if not self.form.multi:
            return
        w, quick = self.w, self._on_avatar(QUICK)
        then_step(w["style"].input(self.switch_style, [w["recipe"], w["style"], w["lang"]], form, **quick))
        then_step(w["style_gallery"].select(self.pick_style, [w["recipe"], w["lang"]], form, **quick))
        w["recipe"].change(None, None, None, js=THUMBNAILS_JS, api_visibility="private")
        w["lang"].change(None, None, None, js=THUMBNAILS_JS, api_visibility="private")  # captions in the new language
        w["style_refresh"].click(self.style_thumbnails, [w["recipe"], w["lang"]], w["style_gallery"], **HEAVY)
        w["lang"].input(self.switch_style, [w["recipe"], w["style"], w["lang"]], form, **quick)

    def _on_avatar(self, settings: dict) -> dict:
        """Event settings that show the event's progress on the avatar only. Gradio's front end (6.31,
        update_loading_stati_state) re-reads every component that ever showed an event's progress, on every
        status message of every event: with the form's ~35 controls and the translated labels among them,
        that was most of the page's work per change (benchmarks.browser)."""
        return {**settings, "show_progress_on": self.w["image"]}

    @property
    def _picked(self) -> dict[str, tuple[Callable, str]]:
        """Colour pickers: picking a colour by hand also switches its option on, then re-renders."""
        return {**{f"color:{c}": (self.use_color, f"any:{c}") for c in self.colors},
                "background_color": (self.use_background, "background"),
                "border_color": (self.use_border, "border")}

    def _background_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.labels.ui(lang, b), b) for b in F.BACKGROUNDS]

    def _frame_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.labels.ui(lang, f"frame_{f}"), f) for f in FRAMES]

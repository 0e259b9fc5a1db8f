"""The designer page: ``build_demo(studio) -> gr.Blocks`` and the launch settings app.py uses.

    demo = build_demo(AvatarStudio.from_pretrained())
    launch(demo)                      # queue sized for a 2-vCPU Space, no share link

The only module that imports gradio. Handlers are a few lines around one AvatarStudio call;
widgets are built from the loaded model (its attributes, palettes, slider directions and
expression presets), so page and model cannot drift apart. Per-visitor state (undo history,
last variations) lives in gr.State; the shared studio holds nothing per user.

Two named endpoints are public for gradio_client (Gradio's MCP server is not switched on):
``/design`` (recipe JSON -> PNG file, the bytes of ``studio.render_png``) and ``/variations``
(recipe JSON + locked attributes -> gallery of PNGs + their recipes). Every other event is
private to the page.
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import inspect
import json
import math
import os
import re
import secrets
import time
from pathlib import Path
from typing import Any, Callable, Sequence
from urllib.parse import parse_qs

import gradio as gr
from gradio import processing_utils
from gradio import utils as gradio_utils
from gradio.data_classes import FileData
from gradio_client import utils as client_utils
from PIL import Image
from starlette.middleware import Middleware

from avatar_studio.attributes import ANY, parse_color
from avatar_studio.controls import SLIDER_RANGE, TRUNCATION_RANGE
from avatar_studio.recipe import FRAMES, MAX_RECIPE_BYTES, SEED_RANGE, SIZES, Recipe
from avatar_studio.studio import AvatarStudio

ASSETS = Path(__file__).resolve().parent.parent / "assets"
LABELS_FILE = ASSETS / "labels.json"
CSS_FILE = ASSETS / "style.css"
LANGUAGES = {"en": "English", "zh": "中文"}
CUSTOM = "custom"                       # expression value when eyes/eyebrows/mouth match no preset
START = {"seed": 42, "spec": {}}        # what a fresh page shows
PREVIEW_SIZE = 256                      # the live image; exports use the recipe's own size
HISTORY_LIMIT = 50
MORPH_FRAMES = 16
EMPTY_HISTORY = {"undo": [], "redo": [], "now": None}
BACKGROUNDS = ("transparent", "colour")

# Launch settings for a 2-vCPU Space: one generation at a time (torch already uses both
# cores), a bounded queue (surplus callers get Gradio's "queue is full"), every call through
# the queue, no share link, no monitoring dashboard, no run history kept in the browser, no
# extra served paths, and generated files deleted after 15 minutes.
QUEUE = {"default_concurrency_limit": 1, "max_size": 96, "api_open": False}
DELETE_CACHE = (300, 900)               # every 5 min, delete generated files older than 15 min
LAUNCH = {"share": False, "show_error": True, "enable_monitoring": False, "run_history": False,
          "max_file_size": "64kb", "ssr_mode": False,
          "state_session_capacity": 2000, "css_paths": [CSS_FILE]}
# Event settings. Generator work shares one queue slot; bookkeeping never waits behind it.
# Handlers get raw values and check them themselves (the studio's messages are the clear
# ones): a component's own preprocess would turn odd types into tracebacks first.
SLOW = {"concurrency_id": "studio", "api_visibility": "private", "preprocess": False}
QUICK = {"concurrency_limit": None, "api_visibility": "private", "preprocess": False}

# Colour swatches: a row of buttons; a click sets the component's value and fires .click.
SWATCH_HTML = ('<div class="swatch-row">${colors.map(c => `<button type="button" class="swatch" '
               'title="${c}" aria-label="${c}" data-color="${c}" style="background:${c}"></button>`).join("")}</div>')
SWATCH_JS = ("element.addEventListener('click', (e) => { const c = e.target.dataset && e.target.dataset.color; "
             "if (c) { props.value = c; trigger('click'); } });")
LINK_JS = ("(r) => r ? window.location.origin + window.location.pathname + '?recipe=' + "
           "encodeURIComponent(JSON.stringify(JSON.parse(r))) : ''")


def build_demo(studio: AvatarStudio) -> gr.Blocks:
    """The designer page for a loaded studio."""
    return Designer(studio).build()


def launch(demo: gr.Blocks, **overrides: Any):
    """Queue and launch with the Space settings above; ``overrides`` go to ``Blocks.launch``.

    Every request passes the RequestGuard, no request body is larger than MAX_BODY_BYTES, and
    files in Gradio's cache folder are deleted by age as ``demo.delete_cache`` says (sweep_cache).
    """
    demo.queue(**QUEUE)
    app_kwargs = {"max_body_size": MAX_BODY_BYTES, "middleware": [Middleware(RequestGuard)],  # fresh: Gradio edits it
                  "lifespan": sweep_cache(*(demo.delete_cache or DELETE_CACHE))}
    return demo.launch(**{**LAUNCH, "app_kwargs": app_kwargs, **overrides})


def sweep_cache(frequency: float, age: float):
    """A server lifespan: every ``frequency`` s, delete_old_files(Gradio's cache folder, ``age``).

    Gradio's own delete_cache forgets the files of a session whose output components were
    re-created by an update (every language switch does that), so the app sweeps the folder
    itself, by age, whichever component made the file.
    """
    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def sweep():
            while True:
                await asyncio.sleep(frequency)
                await asyncio.to_thread(delete_old_files, Path(gradio_utils.get_upload_folder()), age)
        task = asyncio.create_task(sweep())
        try:
            yield
        finally:
            task.cancel()
    return lifespan


def delete_old_files(folder: Path, age: float) -> int:
    """Delete files under ``folder`` unchanged for ``age`` s, then such empty folders; returns the file count."""
    cutoff, removed = time.time() - age, 0
    for root, dirs, files in os.walk(folder, topdown=False):     # links are deleted, never followed
        for name in files + [d for d in dirs if os.path.islink(os.path.join(root, d))]:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):
                if os.lstat(path).st_mtime < cutoff:
                    os.unlink(path)
                    removed += 1
        for name in dirs:
            path = os.path.join(root, name)
            with contextlib.suppress(OSError):      # not empty, gone, or a link: leave it
                if not os.path.islink(path) and os.lstat(path).st_mtime < cutoff:
                    os.rmdir(path)
    return removed


# ---- request guard -------------------------------------------------------------------------
MAX_BODY_BYTES = 256 * 1024     # any request; the largest honest body is a 64 KB recipe upload
EVENT_CALL = re.compile(r"(?:/.*)?/gradio_api/(?:queue/join|(?P<route>call/v2|call|run|api)/(?P<name>[^/]+))/?")
EVENT_STREAM = re.compile(r"(?:/.*)?/gradio_api/(?:queue/data|call/(?:v2/)?[^/]+/(?P<event>[^/]+))/?")
FILE_ROUTE = re.compile(r"(?:/.*)?/gradio_api/file[=/](?P<target>.*)")


class RequestGuard:
    """ASGI middleware in front of Gradio's routes (``launch`` installs it).

    Left alone, Gradio answers an unknown endpoint or event index, or a stream for an unknown
    event, with a 500 and a logged traceback; runs an event with surplus arguments silently
    dropped and answers missing ones with a traceback; fetches any public URL through /file=;
    and serves back whatever anyone uploaded. Here an event request must name an event of this
    page (by name, only the public API) and send exactly its inputs; a stream must be for a live
    session; /file= serves neither remote URLs nor uploads (the app reads those, nobody else).
    Anything else gets a 4xx whose JSON "detail" says why, and no handler runs.
    """

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method, blocks = scope["path"], scope["method"], scope["app"].get_blocks()
        refusal = None
        if method == "POST" and (m := EVENT_CALL.fullmatch(path)):
            body = await _read_body(receive)            # bounded by FastAPI's max_body_size
            refusal = _check_call(blocks, m["route"], m["name"], body)
            receive = _replay(body, receive)
        elif method == "GET" and (m := EVENT_STREAM.fullmatch(path)):
            refusal = _check_stream(blocks._queue, m["event"], scope.get("query_string", b""))
        elif method in ("GET", "HEAD") and (m := FILE_ROUTE.fullmatch(path)):
            refusal = _check_file(blocks, m["target"])
        if refusal is None:
            return await self.app(scope, receive, send)
        status, detail = refusal
        data = json.dumps({"detail": detail}).encode()
        await send({"type": "http.response.start", "status": status,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
        await send({"type": "http.response.body", "body": data})


async def _read_body(receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        chunks.append(message.get("body", b""))
        if message["type"] != "http.request" or not message.get("more_body"):
            return b"".join(chunks)


def _replay(body: bytes, receive):
    """A receive that hands Gradio the body already read, then waits on the real one (disconnects)."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay():
        return pending.pop() if pending else await receive()
    return replay


def _check_call(blocks: gr.Blocks, route: str | None, name: str | None, body: bytes) -> tuple[int, str] | None:
    """Why an event request is refused (status, reason), or None to let it through."""
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return 400, "the request body is not valid JSON"
    if not isinstance(request, dict):
        return 422, "the request body must be a JSON object"
    public = {fn.api_name: fn for fn in blocks.fns.values() if fn.api_visibility == "public" and fn.fn}
    if route is None:                                   # queue/join: the page's events, by index
        index = request.get("fn_index")
        fn = blocks.fns.get(index) if type(index) is int else None
        if fn is None or fn.fn is None:
            return 404, f"no event {str(index)[:40]} on this page"
    elif name not in public:
        return 404, f"no API endpoint {name[:40]!r}; this app offers: {', '.join('/' + n for n in public)}"
    else:
        fn = public[name]
    if route == "call/v2":                              # a public endpoint's inputs by parameter name
        params = inspect.signature(fn.fn).parameters
        unknown = [k for k in request if k not in params and k != "oauth_token"]    # Gradio drops the token
        missing = [k for k, p in params.items() if p.default is p.empty and k not in request]
        if unknown or missing:
            return 422, (f"/{name} takes {', '.join(params)}; "
                         + (f"unknown: {str(unknown[0])[:40]!r}" if unknown else f"missing: {missing[0]!r}"))
        return None
    data, counts = request.get("data"), {len(fn.inputs)}
    if route is not None:                               # by name, session state may be left out
        counts.add(len([block for block in fn.inputs if not block.skip_api]))
    if not isinstance(data, list) or len(data) not in counts:
        got = f"{len(data)}" if isinstance(data, list) else type(data).__name__
        takes = f"/{name} takes ({', '.join(inspect.signature(fn.fn).parameters)})" if route else f"{fn.name} takes"
        return 422, f"{takes} {len(fn.inputs)} input value(s) as the list \"data\", got {got}"
    inputs = fn.inputs if len(data) == len(fn.inputs) else [block for block in fn.inputs if not block.skip_api]
    for block, value in zip(inputs, data):              # files: only in a file input, only uploaded ones
        if getattr(block, "data_model", None) is FileData:
            try:
                path = None if value is None else FileData.model_validate(value).path
            except ValueError:
                return 422, f"{fn.name} takes a file as {{\"path\": ..., \"meta\": {{\"_type\": \"gradio.FileData\"}}}}"
            if path is not None and not _uploaded(blocks, path):
                return 403, "only a file uploaded to /gradio_api/upload can be read"
            if path is not None and block.file_types and not client_utils.is_valid_file(path, block.file_types):
                return 422, f"{fn.name} takes only {', '.join(block.file_types)} files"
        elif _has_file(value):
            return 422, f"{fn.name} takes no files"
    event_data = request.get("event_data")
    if fn.collects_event_data:
        if not (isinstance(event_data, dict) and {"index", "value"} <= event_data.keys()):
            return 422, f"{fn.name} needs \"event_data\" with the picked \"index\" and \"value\""
        try:
            processing_utils.check_all_files_in_cache(event_data)
        except Exception as e:                          # a file path outside Gradio's folder
            return 403, _message(e)[:200]
    return None


def _has_file(value: object) -> bool:
    """Whether Gradio would take part of ``value`` for a file (a FileData dict), at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if client_utils.is_file_obj_with_meta(item):
            return True
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
    return False


def _uploaded(blocks: gr.Blocks, path: str) -> bool:
    """Whether ``path`` is a file someone uploaded through /gradio_api/upload."""
    path = os.path.abspath(path)
    return any(os.path.abspath(upload) == path for upload in list(blocks.upload_file_set))


def _check_file(blocks: gr.Blocks, target: str) -> tuple[int, str] | None:
    """/file= serves the files the app made; Gradio itself refuses anything outside its folders."""
    if re.match(r"https?:", target, re.IGNORECASE):
        return 403, "this app serves only its own files, never a remote URL"
    if _uploaded(blocks, target):                        # as Gradio would open it: os.path.abspath
        return 403, "uploaded files are read by the app, never served back"
    return None


def _check_stream(queue, event_id: str | None, query: bytes) -> tuple[int, str] | None:
    """A result stream must be for a session (queue/data) or event (call/...) the queue holds."""
    if event_id is None:
        session = parse_qs(query.decode("latin-1")).get("session_hash", [None])[0]
    else:                                               # as Gradio resolves it
        event = queue.event_ids_to_events.get(event_id)
        session = event.session_hash if event is not None else next(
            (s for s, ids in queue.pending_event_ids_session.items() if event_id in ids), event_id)
    if session not in queue.pending_messages_per_session:
        return 404, "no such request in the queue (it has finished, or never joined)"
    return None


# ---- labels --------------------------------------------------------------------------------
def humanize(name: str) -> str:
    """A readable label for an id nobody translated: 'shortCurly' -> 'Short curly'."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[0-9])(?=[A-Za-z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(name))
    text = " ".join(spaced.replace("_", " ").replace("-", " ").split()).lower()
    return text[:1].upper() + text[1:]


class Labels:
    """Human names per language from assets/labels.json; English, then a humanised id, as fallbacks."""

    def __init__(self, table: dict):
        self.table = table

    @classmethod
    def load(cls, path: Path = LABELS_FILE) -> "Labels":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def _find(self, lang: str, *keys: str) -> str | None:
        for language in (lang, "en"):
            node: Any = self.table.get(language, {})
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, str):
                return node
        return None

    def ui(self, lang: str, key: str) -> str:
        return self._find(lang, "ui", key) or humanize(key)

    def attribute(self, lang: str, name: str) -> str:
        return self._find(lang, "attributes", name) or humanize(name)

    def choice(self, lang: str, attribute: str, value: str) -> str:
        return (self._find(lang, "choices", attribute, value) or self._find(lang, "choices", "common", value)
                or humanize(value))

    def expression(self, lang: str, name: str) -> str:
        return self._find(lang, "expressions", name) or self._find(lang, "choices", "common", name) or humanize(name)

    def slider(self, lang: str, name: str) -> str:
        return self._find(lang, "sliders", name) or humanize(name)


# ---- input guards ----------------------------------------------------------------------------
def _message(error: Exception) -> str:
    """An error for the page: short, and with any HTML in echoed input made inert (toasts render HTML)."""
    return html.escape(str(error)[:500], quote=False)


def _user_errors(fn: Callable) -> Callable:
    """Bad input becomes gr.Error with the studio's own message: no traceback, nothing logged."""
    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except gr.Error:
            raise
        except (ValueError, TypeError) as e:     # ValueError covers JSON and unicode errors
            raise gr.Error(_message(e), print_exception=False) from None
    return wrapper


def _text(name: str, value: object) -> str:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be JSON text, got {type(value).__name__}")
    if len(value) > MAX_RECIPE_BYTES:
        raise ValueError(f"{name} is too large ({len(value)} characters; at most {MAX_RECIPE_BYTES})")
    return value


def _flag(name: str, value: object) -> bool:
    if not isinstance(value, bool):
        raise ValueError(f"{name} must be true or false, got {str(value)[:40]!r}")
    return value


def _whole(name: str, value: object, lo: int, hi: int) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
            or value != int(value) or not lo <= value <= hi:
        raise ValueError(f"{name} must be a whole number from {lo} to {hi}, got {str(value)[:40]!r}")
    return int(value)


def _index(evt: object, count: int) -> int:
    index = getattr(evt, "index", None)
    if isinstance(index, bool) or not isinstance(index, int) or not 0 <= index < count:
        raise ValueError(f"pick one of the {count} pictures, got index {str(index)[:40]!r}")
    return index


def _save(data: bytes, name: str) -> str:
    """Bytes into Gradio's cache folder (which delete_cache empties); returns the path to serve."""
    return processing_utils.save_bytes_to_cache(data, name, gradio_utils.get_upload_folder())


def _push(history: dict, text: str) -> dict:
    if history["now"] == text:
        return history
    undo = history["undo"] + ([history["now"]] if history["now"] is not None else [])
    return {"undo": undo[-HISTORY_LIMIT:], "redo": [], "now": text}


# ---- the page ------------------------------------------------------------------------------
class Designer:
    """Handlers (plain values in and out, tested directly) and the layout that wires them.

    The *form* is the list of control values that make a recipe, in ``self.fields`` order:
    seed, creativity, slider directions, every categorical attribute, each colour as
    ("any" tick, picker), then the export settings.
    """

    def __init__(self, studio: AvatarStudio, labels: Labels | None = None):
        self.studio = studio
        self.labels = labels or Labels.load()
        self.attributes = studio.attributes
        self.colors = studio.colors
        self.palettes = studio.palettes
        self.sliders = studio.sliders
        self.expressions = studio.expressions
        self.parts = [a for a in self.attributes if any(a in p for p in self.expressions.values())]
        self.names = list(self.attributes) + self.colors
        self.fields = (["seed", "truncation"] + [f"slider:{s}" for s in self.sliders]
                       + [f"attr:{a}" for a in self.attributes]
                       + [f for c in self.colors for f in (f"any:{c}", f"color:{c}")]
                       + ["size", "background", "background_color", "frame", "border", "border_color"])
        self._texts: list[tuple[Any, Callable[[str], dict]]] = []     # (widget, its props in a language)

    # ---- form <-> recipe ---------------------------------------------------------------------
    def recipe_of(self, form: Sequence[Any]) -> dict:
        """The recipe the controls describe (validated later by the studio)."""
        if len(form) != len(self.fields):
            raise ValueError(f"expected {len(self.fields)} control values, got {len(form)}")
        v = dict(zip(self.fields, form))
        spec = {a: v[f"attr:{a}"] for a in self.attributes if v[f"attr:{a}"] != ANY}
        spec.update({c: v[f"color:{c}"] for c in self.colors if not _flag(f"'any' {c}", v[f"any:{c}"])})
        if v["background"] not in BACKGROUNDS:
            raise ValueError(f"background must be one of: {', '.join(BACKGROUNDS)}, got {str(v['background'])[:40]!r}")
        return {"model": self.studio.model_id, "seed": v["seed"], "spec": spec, "truncation": v["truncation"],
                "sliders": {s: v[f"slider:{s}"] for s in self.sliders if v[f"slider:{s}"] != 0},
                "size": v["size"], "frame": v["frame"],
                "background": "transparent" if v["background"] == "transparent" else v["background_color"],
                "border": v["border_color"] if _flag("border", v["border"]) else "none"}

    def form_of(self, recipe: dict | str | Recipe) -> list:
        """Control values showing a recipe; colours left to "any" show what the seed picks."""
        r = self.studio.check_recipe(recipe)
        note = self.studio.version_note(r)
        if note:
            gr.Info(note)
        shown = self.studio.resolve(r.spec, r.seed)
        v = {"seed": r.seed, "truncation": r.truncation, "size": r.size, "frame": r.frame,
             "background": "transparent" if r.background == "transparent" else "colour",
             "background_color": "#ffffff" if r.background == "transparent" else r.background,
             "border": r.border != "none", "border_color": "#ffffff" if r.border == "none" else r.border}
        v.update({f"slider:{s}": r.sliders.get(s, 0.0) for s in self.sliders})
        v.update({f"attr:{a}": r.spec.get(a, ANY) for a in self.attributes})
        v.update({f"any:{c}": c not in r.spec for c in self.colors})
        v.update({f"color:{c}": shown[c] for c in self.colors})
        return [v[f] for f in self.fields]

    def match_expression(self, spec: dict) -> str:
        """The preset whose eyes, eyebrows and mouth the spec has ("any" if none set, else "custom")."""
        parts = {p: spec.get(p, ANY) for p in self.parts}
        if all(value == ANY for value in parts.values()):
            return ANY
        for name, preset in self.expressions.items():
            if parts == {**{p: ANY for p in self.parts}, **preset}:
                return name
        return CUSTOM

    # ---- handlers: live design ---------------------------------------------------------------
    @_user_errors
    def step(self, history: dict, *form: Any) -> tuple[Image.Image, str, str, dict]:
        """Render what the controls say (the live image) and record it as a design step for undo."""
        r = self.studio.check_recipe(self.recipe_of(form))
        text = r.to_json()
        image = self.studio.render(r.with_export(size=PREVIEW_SIZE))  # checked once, above
        return image, text, self.match_expression(r.spec), _push(history, text)

    @_user_errors
    def set_expression(self, name: str) -> list:
        """Eyes, eyebrows and mouth of an expression preset ("any" frees all three)."""
        if name == CUSTOM:
            return [gr.skip() for _ in self.parts]
        if name != ANY and name not in self.expressions:
            raise ValueError(f"unknown expression {str(name)[:40]!r}; choose one of: {', '.join(self.expressions)}")
        preset = self.expressions.get(name, {})
        return [preset.get(p, ANY) for p in self.parts]

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
        if not history["undo"]:
            gr.Info(self.labels.ui(self._lang(lang), "nothing_to_undo"))
            return [gr.skip() for _ in self.fields] + [history]
        h = {"undo": history["undo"][:-1], "redo": history["redo"] + [history["now"]], "now": history["undo"][-1]}
        return self.form_of(h["now"]) + [h]

    @_user_errors
    def redo(self, history: dict, lang: str = "en") -> list:
        """Go one design step forward again."""
        if not history["redo"]:
            gr.Info(self.labels.ui(self._lang(lang), "nothing_to_redo"))
            return [gr.skip() for _ in self.fields] + [history]
        h = {"undo": history["undo"] + [history["now"]], "redo": history["redo"][:-1], "now": history["redo"][-1]}
        return self.form_of(h["now"]) + [h]

    # ---- handlers: recipes in ------------------------------------------------------------------
    @_user_errors
    def open_recipe(self, text: str) -> list:
        """Controls from a pasted recipe."""
        return self.form_of(_text("recipe", text))

    @_user_errors
    def open_file(self, path: str) -> list:
        """Controls from an uploaded recipe file (read only up to the recipe size limit)."""
        if not isinstance(path, str):
            raise ValueError("upload one recipe file (.json)")
        with open(path, "rb") as f:
            data = f.read(MAX_RECIPE_BYTES + 1)
        if len(data) > MAX_RECIPE_BYTES:
            raise ValueError(f"recipe file is too large (at most {MAX_RECIPE_BYTES} bytes)")
        return self.form_of(data.decode("utf-8"))

    @_user_errors
    def open_url(self, request: gr.Request) -> list:
        """Controls for a fresh page: the recipe in the URL (?recipe=<json>) or the start design."""
        text = request.query_params.get("recipe") if request is not None else None
        if text:
            try:
                return self.form_of(_text("recipe", text))
            except ValueError as e:
                gr.Warning(f"{self.labels.ui('en', 'link_error')}: {_message(e)}")
        return self.form_of(START)

    # ---- handlers: pictures and files out -------------------------------------------------------
    @_user_errors
    def design(self, recipe: str) -> str:
        """Render a recipe to a PNG file: the same bytes as AvatarStudio.render_png(recipe).

        Args:
            recipe: the design as JSON text, e.g. {"seed": 42, "spec": {"hair": "bob", "hair_color": "#a55728"}, "size": 512, "frame": "circle"}; "spec" and "seed" are required, the rest have defaults.
        Returns:
            The path of the PNG file.
        """
        r = self.studio.check_recipe(_text("recipe", recipe))
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
        pairs = self.studio.variations(_text("recipe", recipe), locked)
        return [(im, f"seed {r.seed}") for r, im in pairs], [r.to_dict() for r, _ in pairs]

    @_user_errors
    def adopt(self, recipes: list, evt: gr.SelectData) -> list:
        """Clicking a variation puts its seed and choices into the controls."""
        if not isinstance(recipes, list):
            raise ValueError("no variations to pick from yet")
        return self.form_of(recipes[_index(evt, len(recipes))])

    @_user_errors
    def preview(self, recipe: str, attribute: str, lang: str) -> tuple[list[tuple[Image.Image, str]], str]:
        """Every choice of one attribute on the current face, captioned in the page's language."""
        lang = self._lang(lang)
        pairs = self.studio.preview(_text("recipe", recipe), attribute)
        return [(im, self.labels.choice(lang, attribute, c)) for c, im in pairs], attribute

    @_user_errors
    def pick_preview(self, attribute: str, recipe: str, evt: gr.SelectData) -> list:
        """Clicking a preview picks that choice for the attribute."""
        if attribute not in self.attributes:
            raise ValueError("show the choices of an attribute first")
        r = self.studio.check_recipe(_text("recipe", recipe))
        choice = self.attributes[attribute][_index(evt, len(self.attributes[attribute]))]
        return self.form_of({**r.to_dict(), "spec": {**r.spec, attribute: choice}})  # a new recipe, not an edit

    @_user_errors
    def sticker_pack(self, recipe: str) -> str:
        """A ZIP of PNGs: this face in every expression preset."""
        r = self.studio.check_recipe(_text("recipe", recipe))
        return _save(self.studio.sticker_pack(r), f"stickers-{r.seed}.zip")

    @_user_errors
    def recipe_file(self, recipe: str) -> str:
        """The recipe as a .json file to keep or share."""
        r = self.studio.check_recipe(_text("recipe", recipe))
        return _save((json.dumps(r.to_dict(), indent=1) + "\n").encode("utf-8"), f"avatar-{r.seed}.json")

    @_user_errors
    def morph(self, recipe_a: str, recipe_b: str, frames: float) -> str:
        """An animated GIF walking from recipe A to recipe B and back."""
        frames = _whole("frames", frames, 2, 64)
        return _save(self.studio.morph(_text("recipe A", recipe_a), _text("recipe B", recipe_b), frames), "morph.gif")

    # ---- handlers: language ---------------------------------------------------------------------
    @_user_errors
    def relabel(self, lang: str) -> list:
        """Every label, choice name and button text of the page in another language."""
        lang = self._lang(lang)
        return [gr.update(**props(lang)) for _, props in self._texts]

    def _lang(self, lang: object) -> str:
        if lang not in LANGUAGES:
            raise ValueError(f"language must be one of: {', '.join(LANGUAGES)}, got {str(lang)[:40]!r}")
        return lang

    def choices(self, lang: str, attribute: str) -> list[tuple[str, str]]:
        """Dropdown choices of an attribute: ("any" first) as (label, id)."""
        return [(self.labels.choice(lang, attribute, ANY), ANY)] + [
            (self.labels.choice(lang, attribute, c), c) for c in self.attributes[attribute]]

    def expression_choices(self, lang: str) -> list[tuple[str, str]]:
        names = [ANY, *self.expressions, CUSTOM]
        return [(self.labels.expression(lang, n), n) for n in names]

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
        with gr.Blocks(title="Avatar Studio", analytics_enabled=False, delete_cache=DELETE_CACHE) as demo:
            with gr.Row(equal_height=True):
                self._t(gr.Markdown(self.labels.ui("en", "title")), value="title")
                self.w["lang"] = gr.Radio([(name, code) for code, name in LANGUAGES.items()], value="en",
                                          label="Language / 语言", scale=0, min_width=180, elem_id="language")
            start = dict(zip(self.fields, self.form_of(START)))
            with gr.Row():
                with gr.Column(scale=2, min_width=320):
                    self._design_controls(start, "en")
                with gr.Column(scale=3, min_width=320):
                    self._avatar_and_tools(start, "en")
            self._wire(demo)
        return demo

    def _design_controls(self, start: dict, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        with self._t(gr.Accordion(ui("design")), label="design"):
            w["expression"] = self._tf(
                gr.Dropdown(self.expression_choices(lang), value=ANY, label=ui("expression"),
                            info=ui("expression_info"), visible=bool(self.expressions), elem_id="expression"),
                lambda lang: {"choices": self.expression_choices(lang), "label": self.labels.ui(lang, "expression"),
                              "info": self.labels.ui(lang, "expression_info")})
            for a in self.attributes:
                if a not in self.parts:
                    self._attribute_dropdown(a, start, lang)
            with self._t(gr.Accordion(ui("advanced"), open=False, visible=bool(self.parts)), label="advanced"):
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
                if self.palettes.get(name):
                    w[f"swatches:{name}"] = gr.HTML("", html_template=SWATCH_HTML, js_on_load=SWATCH_JS,
                                                    colors=self.palettes[name], elem_id=f"swatches-{name}")
        with self._t(gr.Accordion(ui("latent")), label="latent"):
            with gr.Row(equal_height=True):
                w["seed"] = self._t(gr.Number(start["seed"], label=ui("seed"), precision=0, minimum=SEED_RANGE[0],
                                              maximum=SEED_RANGE[1], elem_id="seed"), label="seed")
                w["dice"] = self._t(gr.Button(ui("dice"), scale=0, min_width=140, elem_id="dice"), value="dice")
            w["truncation"] = self._t(gr.Slider(*TRUNCATION_RANGE, value=start["truncation"], step=0.05,
                                                label=ui("creativity"), info=ui("creativity_info"),
                                                elem_id="creativity"), label="creativity", info="creativity_info")
            for s in self.sliders:
                w[f"slider:{s}"] = self._tf(
                    gr.Slider(*SLIDER_RANGE, value=0.0, step=0.1, label=self.labels.slider(lang, s)),
                    functools.partial(lambda s, lang: {"label": self.labels.slider(lang, s)}, s))

    def _attribute_dropdown(self, attribute: str, start: dict, lang: str) -> None:
        self.w[f"attr:{attribute}"] = self._tf(
            gr.Dropdown(self.choices(lang, attribute), value=start[f"attr:{attribute}"],
                        label=self.labels.attribute(lang, attribute), elem_id=f"attr-{attribute}"),
            lambda lang: {"choices": self.choices(lang, attribute), "label": self.labels.attribute(lang, attribute)})

    def _avatar_and_tools(self, start: dict, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        w["history"], w["previewed"] = gr.State(EMPTY_HISTORY), gr.State(None)
        w["image"] = self._t(gr.Image(type="pil", format="png", interactive=False, label=ui("avatar"), height=380,
                                      buttons=["download", "fullscreen"], elem_id="avatar"), label="avatar")
        with gr.Row():
            w["undo"] = self._t(gr.Button(ui("undo"), size="sm", elem_id="undo"), value="undo")
            w["redo"] = self._t(gr.Button(ui("redo"), size="sm", elem_id="redo"), value="redo")
        with gr.Tabs():
            with self._t(gr.Tab(ui("export"), elem_id="tab-export"), label="export"):
                self._export_tab(start, lang)
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
                w["strip"] = self._t(gr.Gallery(format="png", columns=6, allow_preview=False, height=300,
                                                label=ui("preview_info"), elem_id="preview"), label="preview_info")
            with self._t(gr.Tab(ui("share"), elem_id="tab-share"), label="share"):
                self._share_tab(lang)
            with self._t(gr.Tab(ui("morph"), elem_id="tab-morph"), label="morph"):
                with gr.Row():
                    w["save_a"] = self._t(gr.Button(ui("save_a")), value="save_a")
                    w["save_b"] = self._t(gr.Button(ui("save_b")), value="save_b")
                with gr.Row():
                    for key in ("recipe_a", "recipe_b"):
                        w[key] = self._t(gr.Textbox(label=ui(key), lines=2, max_length=MAX_RECIPE_BYTES), label=key)
                w["frames"] = self._t(gr.Slider(2, 64, value=MORPH_FRAMES, step=1, label=ui("frames")),
                                      label="frames")
                w["make_morph"] = self._t(gr.Button(ui("make_morph"), variant="primary"), value="make_morph")
                w["morph_out"] = self._t(gr.Image(type="filepath", interactive=False, label=ui("morph_result")),
                                         label="morph_result")

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
        with gr.Row():
            w["export"] = self._t(gr.Button(ui("export_png"), variant="primary", elem_id="export"),
                                  value="export_png")
            w["stickers"] = self._t(gr.Button(ui("sticker_pack"), elem_id="stickers"), value="sticker_pack")
        with gr.Row():
            w["png_file"] = self._t(gr.File(label=ui("png_file"), interactive=False, height=90, elem_id="png-file"),
                                    label="png_file")
            w["zip_file"] = self._t(gr.File(label=ui("stickers_file"), interactive=False, height=90,
                                            elem_id="stickers-file"), label="stickers_file")

    def _share_tab(self, lang: str) -> None:
        ui, w = functools.partial(self.labels.ui, lang), self.w
        w["recipe"] = self._t(gr.Textbox(label=ui("recipe"), interactive=False, lines=3, buttons=["copy"],
                                         elem_id="recipe"), label="recipe")
        w["link"] = self._t(gr.Textbox(label=ui("link"), interactive=False, buttons=["copy"], elem_id="link"),
                            label="link")
        with gr.Row(equal_height=True):
            w["save_recipe"] = self._t(gr.Button(ui("download_recipe")), value="download_recipe")
            w["recipe_file"] = self._t(gr.File(label=ui("recipe_file"), interactive=False, height=90),
                                       label="recipe_file")
        w["paste"] = self._t(gr.Textbox(label=ui("paste"), lines=3, max_length=MAX_RECIPE_BYTES, elem_id="paste"),
                             label="paste")
        with gr.Row():
            w["open_recipe"] = self._t(gr.Button(ui("open_recipe"), elem_id="open-recipe"), value="open_recipe")
            w["upload"] = self._t(gr.UploadButton(ui("upload_recipe"), file_types=[".json"], type="filepath"),
                                  label="upload_recipe")

    # ---- wiring --------------------------------------------------------------------------------
    def _wire(self, demo: gr.Blocks) -> None:
        w = self.w
        form = [w[f] for f in self.fields]
        history, recipe, lang = w["history"], w["recipe"], w["lang"]
        step = {"fn": self.step, "inputs": [history, *form], "outputs": [w["image"], recipe, w["expression"], history],
                "show_progress": "minimal", **SLOW}

        def then_step(event):
            return event.success(**step)

        # live update: every hand-made change re-renders; while one runs, only the latest waits
        gr.on([w[f].input for f in self.fields if f not in self._picked], trigger_mode="always_last", **step)
        for field, (fn, target) in self._picked.items():
            then_step(w[field].input(fn, w[field], w[target], trigger_mode="always_last", **QUICK))
        for name in self.colors:
            if f"swatches:{name}" in w:
                then_step(w[f"swatches:{name}"].click(self.use_swatch, w[f"swatches:{name}"],
                                                      [w[f"color:{name}"], w[f"any:{name}"]], **QUICK))
        then_step(w["expression"].input(self.set_expression, w["expression"], [w[f"attr:{a}"] for a in self.parts],
                                        **QUICK))
        then_step(w["dice"].click(self.roll_seed, None, w["seed"], **QUICK))
        then_step(w["undo"].click(self.undo, [history, lang], [*form, history], **QUICK))
        then_step(w["redo"].click(self.redo, [history, lang], [*form, history], **QUICK))

        # recipes in: the page's URL, a pasted recipe, an uploaded file (read through its component)
        then_step(demo.load(self.open_url, None, form, **QUICK))
        then_step(w["open_recipe"].click(self.open_recipe, w["paste"], form, **QUICK))
        then_step(w["upload"].upload(self.open_file, w["upload"], form, **{**QUICK, "preprocess": True}))
        recipe.change(None, recipe, w["link"], js=LINK_JS, api_visibility="private")

        # pictures and files out, each from the recipe of the controls as they are at the click;
        # /design and /variations are the public API (gradio_client)
        w["export"].click(**step).success(self.design, recipe, w["png_file"], api_name="design",
                                          **{**SLOW, "api_visibility": "public"})
        w["vary"].click(**step).success(self.variations, [recipe, w["locked"]], [w["var_gallery"], w["var_recipes"]],
                                        api_name="variations", **{**SLOW, "api_visibility": "public"})
        then_step(w["var_gallery"].select(self.adopt, w["var_recipes"], form, **QUICK))
        w["show_all"].click(**step).success(self.preview, [recipe, w["preview_of"], lang],
                                            [w["strip"], w["previewed"]], **SLOW)
        then_step(w["strip"].select(self.pick_preview, [w["previewed"], recipe], form, **QUICK))
        w["stickers"].click(**step).success(self.sticker_pack, recipe, w["zip_file"], **SLOW)
        w["save_recipe"].click(**step).success(self.recipe_file, recipe, w["recipe_file"], **QUICK)
        for key in ("a", "b"):
            w[f"save_{key}"].click(None, recipe, w[f"recipe_{key}"], js="(r) => r", api_visibility="private")
        w["make_morph"].click(self.morph, [w["recipe_a"], w["recipe_b"], w["frames"]], w["morph_out"], **SLOW)
        lang.input(self.relabel, lang, [component for component, _ in self._texts], **QUICK)

    @property
    def _picked(self) -> dict[str, tuple[Callable, str]]:
        """Colour pickers: picking a colour by hand also switches its option on, then re-renders."""
        return {**{f"color:{c}": (self.use_color, f"any:{c}") for c in self.colors},
                "background_color": (self.use_background, "background"),
                "border_color": (self.use_border, "border")}

    def _background_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.labels.ui(lang, b), b) for b in BACKGROUNDS]

    def _frame_choices(self, lang: str) -> list[tuple[str, str]]:
        return [(self.labels.ui(lang, f"frame_{f}"), f) for f in FRAMES]

"""Hostile and broken requests against the launched app (127.0.0.1 only), on the tiny model.

Bad input through gradio_client and raw HTTP (every event of the page, not only the public two),
a hypothesis fuzz of /design and /variations, recipe uploads, start-up with the Hub unreachable,
damaged weights through ``python app.py``, and what the file routes expose.

Covered elsewhere and not repeated: each handler's own checks called directly (test_ui.py);
damaged weights of many kinds refused in-process in < 2 s naming the file, an offline Hub id,
no pickle path (test_generator.py); resume exactness and half-written checkpoints
(test_training.py); a first set of bad recipes, only two public endpoints, a missing weights
folder and a few file-route paths (test_app_client.py).
"""
from __future__ import annotations

import io
import json
import logging
import os
import shutil
import struct
import subprocess
import sys
import textwrap
import threading
import time
import traceback
import uuid
import zlib
from http.client import HTTPConnection
from pathlib import Path
from types import SimpleNamespace

import gradio as gr
import httpx
import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from avatar_studio import ui
from avatar_studio.recipe import FRAMES, SIZES
from avatar_studio.serving import MAX_BODY_BYTES, launch
from avatar_studio.ui import Designer, build_demo
from tests.harness import Answer, Server, call, fetch_files, free_port, join

pytestmark = pytest.mark.server  # the app over HTTP, in process and in child processes

ROOT = Path(__file__).resolve().parent.parent
FUZZ_REQUESTS = 520


# ---- fixtures and helpers --------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(studio):
    """The app launched in this process with serving.launch (guard, limits, queue) on 127.0.0.1."""
    demo = build_demo(studio)
    _, url, share_url = launch(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True,
                               quiet=True)
    yield SimpleNamespace(url=url.rstrip("/"), demo=demo, share_url=share_url,
                          index={fn.api_name: i for i, fn in demo.fns.items()})
    demo.close()


@pytest.fixture(scope="module")
def served(tiny_weights):
    """``python app.py`` in a child process (the Space's own start-up), its output in a log."""
    with Server(tiny_weights) as server:
        yield server


@pytest.fixture(scope="module")
def http():
    with httpx.Client(timeout=60) as client:
        yield client


@pytest.fixture
def watch(studio, monkeypatch):
    """While a test runs: generator passes, and any traceback printed or error logged in this process."""
    seen = SimpleNamespace(passes=0, problems=[])
    lock = threading.Lock()

    def counted(method):
        def wrapper(*args, **kwargs):
            with lock:
                seen.passes += 1
            return method(*args, **kwargs)
        return wrapper

    for name in ("mapping", "synthesis"):
        monkeypatch.setattr(studio.generator, name, counted(getattr(studio.generator, name)))
    monkeypatch.setattr(traceback, "print_exc", lambda *a, **k: seen.problems.append(traceback.format_exc()))
    monkeypatch.setattr(traceback, "print_exception", lambda *a, **k: seen.problems.append(f"print_exception{a}"))

    class Record(logging.Handler):
        def emit(self, record):
            if record.levelno >= logging.ERROR or record.exc_info:
                seen.problems.append(f"{record.name}: {record.getMessage()}")

    handler, loggers = Record(), [logging.getLogger(n) for n in ("", "uvicorn", "uvicorn.error", "gradio", "asyncio")]
    for logger in loggers:
        logger.addHandler(handler)
    yield seen
    for logger in loggers:
        logger.removeHandler(handler)


def assert_clear(message: object, needle: str = "") -> None:
    """An error a person can read: short, one message, no traceback or object reprs, HTML made inert."""
    assert isinstance(message, str) and message, message
    assert len(message) < 700, message
    for bad in ("Traceback", "object at 0x", 'File "/', "<script", "<img"):
        assert bad not in message, message
    assert needle.lower() in message.lower(), (needle, message)


def assert_refused_cleanly(status: int, detail: object) -> None:
    assert status in (400, 403, 404, 413, 422), (status, detail)
    assert_clear(detail)


def recipe(**extra) -> str:
    return json.dumps({"seed": 3, "spec": {}, "size": 128, **extra})


# ---- bad input through gradio_client ---------------------------------------------------------
CLIENT_BAD_DESIGN = [
    (None, "JSON text"), (5, "JSON text"), (True, "JSON text"), (["{}"], "JSON text"),
    ({"seed": 1, "spec": {}}, "JSON text"), ("", "not valid JSON"), ("[]", "JSON object"), ("null", "JSON object"),
    ('{"seed": 1, "spec": {}, "truncation": NaN}', "NaN"), ('{"seed": 1, "spec": {}, "truncation": Infinity}', "Infinity"),
    ('{"seed": 1, "spec": {}, "truncation": -Infinity}', "Infinity"), (recipe(truncation=5), "truncation"),
    (recipe(truncation="0.5"), "truncation"), (recipe(sliders={"hat colour": 99}), "hat colour"),
    (recipe(sliders={"nope": 1}), "nope"), (recipe(sliders=[1]), "sliders"),
    (recipe(seed=-1), "seed"), (recipe(seed=2**31), "seed"), (recipe(seed=2**63), "seed"), (recipe(seed=1.5), "seed"),
    (recipe(seed=1e300), "seed"), (recipe(seed="7"), "seed"), (recipe(seed=None), "seed"), (recipe(seed=True), "seed"),
    (recipe(spec={"wings": "big"}), "wings"), (recipe(spec={"hair": "bobb"}), "bobb"), (recipe(spec={"hair": None}), "hair"),
    (recipe(spec={"hair": ["bob"]}), "hair"), (recipe(spec={"hair": 3}), "hair"), (recipe(spec=[]), "spec"),
    (recipe(spec={"hair_color": "javascript:alert(1)"}), "hair_color"), (recipe(spec={"hair_color": "#fff"}), "hair_color"),
    (recipe(spec={"hair_color": "red"}), "hair_color"), (recipe(spec={"hair_color": "#" + "a" * 5000}), "hair_color"),
    (recipe(spec={"hair_color": "x" * 20_000}), "too large"), (recipe(size=100), "size"), (recipe(size="512"), "size"),
    (recipe(size=512.5), "size"), (recipe(size=None), "size"), (recipe(frame="star"), "frame"),
    (recipe(background="javascript:alert(1)"), "background"), (recipe(border="url(x)"), "border"),
    (recipe(model="other@9"), "model"), (recipe(**{"<script>alert(1)</script>": 1}), "unknown recipe key"),
    ("[" * 15_000, "nested too deeply"), ('{"seed": 1, "spec":' + '{"a":' * 3000, "nested too deeply"),
    (recipe() + "x", "not valid JSON"),
]
CLIENT_BAD_VARIATIONS = [
    ((recipe(), None), "locked"), ((recipe(), "hair"), "locked"), ((recipe(), [["hair"]]), "locked"),
    ((recipe(), [1]), "locked"), ((recipe(), {"hair": 1}), "locked"), ((recipe(), ["wings"]), "wings"),
    ((None, ["hair"]), "JSON text"), (("{", ["hair"]), "not valid JSON"), ((recipe(seed=-1), []), "seed"),
]


def test_bad_input_through_gradio_client_is_refused_before_any_generation(app, watch, studio, tmp_path):
    client = Client(app.url, verbose=False, analytics_enabled=False, download_files=str(tmp_path))
    for value, needle in CLIENT_BAD_DESIGN:
        with pytest.raises(AppError) as e:
            client.predict(value, api_name="/design")
        assert_clear(str(e.value), needle)
    for args, needle in CLIENT_BAD_VARIATIONS:
        with pytest.raises(AppError) as e:
            client.predict(*args, api_name="/variations")
        assert_clear(str(e.value), needle)
    with pytest.raises(httpx.HTTPStatusError, match="413"):          # a 20 MB string: over the body limit
        client.predict("x" * 20_000_000, api_name="/design")
    assert watch.passes == 0 and watch.problems == []
    good = recipe(frame="circle")
    assert Path(client.predict(good, api_name="/design")).read_bytes() == studio.render_png(good)
    assert watch.passes > 0 and watch.problems == []


# ---- bad input through raw HTTP: what no client would send ---------------------------------
def _raw(obj) -> bytes:
    return obj if isinstance(obj, bytes) else json.dumps(obj, allow_nan=True).encode()


RAW_CALLS = [   # (endpoint, body, status of the POST (200: queued, then the app's error), words of the answer)
    ("design", {"data": []}, 422, "1 input value"), ("design", {"data": [recipe(), recipe()]}, 422, "got 2"),
    ("design", {"data": "x"}, 422, "got str"), ("design", {}, 422, "data"), ("design", [1], 422, "JSON object"),
    ("design", b"not json", 400, "not valid JSON"), ("design", b'\xff\xfe{"data": [1]}', 400, "not valid JSON"),
    ("design", b'{"data": ' + b"[" * 50_000 + b"]" * 50_000 + b"}", 400, "not valid JSON"),
    ("design", b'{"data": [NaN]}', 200, "got float"), ("design", b'{"data": [Infinity]}', 200, "got float"),
    ("design", b'{"data": [-Infinity]}', 200, "got float"), ("design", {"data": [None]}, 200, "got NoneType"),
    ("design", {"data": [["{}"]]}, 200, "got list"), ("design", {"data": [{"seed": 1, "spec": {}}]}, 200, "got dict"),
    ("design", {"data": ["x" * 100_000]}, 200, "too large"),
    ("design", {"data": ["x" * (MAX_BODY_BYTES + 1)]}, 413, ""),
    ("design", {"data": ['{"seed": 1, "spec": {"hair": NaN}}']}, 200, "NaN"),
    ("design", {"data": [{"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}]}, 422, "takes no files"),
    ("design", {"data": [[{"a": {"path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}}]]}, 422, "no files"),
    ("design", {"data": [{"path": "/etc/passwd"}]}, 200, "got dict"),
    ("design", b'{"data": ["\\ud800"]}', 200, "not valid JSON"),      # a lone surrogate: not even UTF-8
    ("design", b'{"data": ["{\\"seed\\": 1, \\"spec\\": {\\"\\\\ud800\\": 1}}"]}', 200, "unknown attribute"),
    ("variations", {"data": [recipe()]}, 422, "2 input value"), ("variations", {"data": [recipe(), None]}, 200, "locked"),
    ("variations", {"data": [recipe(), "hair"]}, 200, "locked"), ("variations", b'{"data": ["{}", [NaN]]}', 200, "locked"),
    ("variations", {"data": [recipe(), ["hair"], 1]}, 422, "got 3"),
    ("nope", {"data": []}, 404, "/design, /variations"), ("step", {"data": [None] * 24}, 404, "no API endpoint"),
    ("v2/design", {"recipe": recipe(), "extra": 1}, 422, "unknown"), ("v2/design", {}, 422, "missing"),
    ("v2/step", {}, 404, "no API endpoint"), ("v2/nope", {"recipe": recipe()}, 404, "no API endpoint"),
]


def test_raw_http_bad_requests_get_a_clear_4xx_or_error_and_nothing_runs(app, http, watch, studio):
    for endpoint, body, status, needle in RAW_CALLS:
        answer = call(http, app.url, endpoint, raw=_raw(body))
        shown = body if len(str(body)) < 200 else "(long)"
        if status == 200:
            assert answer.kind == "error", (endpoint, shown, answer)
            assert_clear(answer.detail, needle)
        else:
            assert (answer.status, answer.kind) == (status, "refused"), (endpoint, shown, answer)
            if status != 413:                           # Starlette's own plain "Content Too Large"
                assert_clear(json.loads(answer.detail)["detail"], needle)
    for route in ("run/nope", "api/nope"):
        r = http.post(f"{app.url}/gradio_api/{route}", json={"data": []})
        assert r.status_code == 404 and "no API endpoint" in r.json()["detail"]
    r = http.post(f"{app.url}/gradio_api/api/design", json={"data": [recipe()]})
    assert r.status_code == 404 and "queue" in r.json()["detail"]       # Gradio's own: api_open=False
    design, adopt = app.index["design"], app.index["adopt"]
    step = app.index.get("step_and_steer", app.index.get("step"))  # the live step (with the picker's outputs, if any)
    joins = [({"fn_index": 9999}, 404), ({"fn_index": -1}, 404), ({"fn_index": True}, 404), ({"fn_index": "1"}, 404),
             ({"fn_index": None}, 404), ({"fn_index": design, "data": [recipe(), 1]}, 422),
             ({"fn_index": design, "data": []}, 422), ({"fn_index": step, "data": [None] * 3}, 422),
             ({"fn_index": app.index["use_color"], "data": ["#" + "a" * 20_000_000]}, 413),   # a 20 MB colour
             ({"fn_index": adopt, "data": ["en", []]}, 422),           # (the page's language first, then the recipes)
             ({"fn_index": adopt, "data": ["en", []], "event_data": "x"}, 422),
             ({"fn_index": adopt, "data": ["en", []], "event_data": {"index": 0}}, 422),
             ({"fn_index": adopt, "data": ["en", []], "event_data": {"index": 0, "value": {"image": {
                 "path": "/etc/passwd", "meta": {"_type": "gradio.FileData"}}}}}, 403)]
    for body, status in joins:
        got, detail = join(http, app.url, None, raw=_raw({"data": [recipe()], "session_hash": "s1", **body}))
        assert got == status, (body, got, detail)
        assert_clear(detail)
    for path in ("/gradio_api/call/design/not-an-event", "/gradio_api/queue/data?session_hash=nobody",
                 "/gradio_api/queue/data"):
        r = http.get(app.url + path)
        assert r.status_code == 404 and "queue" in r.json()["detail"], path
    assert watch.passes == 0 and watch.problems == []
    assert call(http, app.url, "design", [recipe()]).images == [studio.render_png(recipe())]


def test_every_event_of_the_page_answers_junk_with_a_clear_error(app, http, watch):
    """Private events are reachable by fn_index too (the page uses them): junk in, a message out."""
    nan = float("nan")
    tried = 0
    for index, fn in app.demo.fns.items():
        k = len(fn.inputs)
        if fn.fn is None or k == 0:
            continue
        event_data = {"index": 0, "value": None} if fn.collects_event_data else None
        for value in (None, nan, [1, [2]], "x" * 4000):
            status, result = join(http, app.url, index, [value] * k, event_data=event_data)
            tried += 1
            if status != 200:                   # refused by the guard (a file input given junk)
                assert_refused_cleanly(status, result)
                continue
            assert isinstance(result, dict) and result["success"] is False, (fn.name, value, result)
            assert_clear(result["output"]["error"])
    assert tried > 100
    assert watch.passes == 0 and watch.problems == []


# ---- fuzz ------------------------------------------------------------------------------------
JUNK = st.one_of(st.none(), st.booleans(), st.integers(-2**70, 2**70), st.floats(), st.text(max_size=16),
                 st.lists(st.integers(-3, 3), max_size=2), st.dictionaries(st.text(max_size=3), st.integers(), max_size=2))
COLOUR = st.one_of(st.from_regex(r"\A#[0-9a-fA-F]{6}\Z"), JUNK,
                   st.sampled_from(["javascript:alert(1)", "#fff", "red", "#12345g", "", "url(x)", "<b>x</b>",
                                    "#aabbcc\n", "#" + "a" * 3000, "\u0000"]))


def recipe_strategy(studio, valid: bool) -> st.SearchStrategy:
    """Recipes as dicts: valid ones (to check the PNG), or any field replaced by junk."""
    choices = {a: st.sampled_from([*c, "any"]) for a, c in studio.attributes.items()}
    colours = {c: st.from_regex(r"\A#[0-9a-f]{6}\Z") for c in studio.colors}
    good = {"seed": st.integers(0, 2**31 - 1), "spec": st.fixed_dictionaries({}, optional={**choices, **colours}),
            "truncation": st.floats(0.0, 1.0), "sliders": st.dictionaries(st.sampled_from(studio.sliders),
                                                                            st.floats(-2, 2), max_size=1),
            "size": st.sampled_from(SIZES), "frame": st.sampled_from(FRAMES),
            "background": st.one_of(st.just("transparent"), colours[studio.colors[0]]),
            "border": st.one_of(st.just("none"), colours[studio.colors[0]]), "model": st.just(studio.model_id)}
    if valid:
        return st.fixed_dictionaries({"seed": good["seed"], "spec": good["spec"]},
                                     optional={k: v for k, v in good.items() if k not in ("seed", "spec")})
    number = st.one_of(st.floats(-10, 10), st.floats(), JUNK)
    spec = st.one_of(st.fixed_dictionaries({}, optional={**{a: st.one_of(s, JUNK) for a, s in choices.items()},
                                                         **{c: COLOUR for c in studio.colors}}),
                     st.dictionaries(st.text(max_size=10), JUNK, max_size=3), JUNK)
    bad = {"seed": st.one_of(good["seed"], st.sampled_from([-1, 2**31, 2**63, 1.5, 1e300, "7"]), JUNK), "spec": spec,
           "truncation": number, "sliders": st.one_of(st.dictionaries(st.sampled_from([*studio.sliders, "nope"]),
                                                                       number, max_size=2), JUNK),
           "size": st.one_of(good["size"], st.integers(-5, 5000), JUNK), "frame": st.one_of(good["frame"], JUNK),
           "background": st.one_of(good["background"], COLOUR), "border": st.one_of(good["border"], COLOUR),
           "model": st.one_of(good["model"], JUNK), "wings": JUNK}
    return st.fixed_dictionaries({}, optional=bad)


def recipe_text(data, studio) -> object:
    """What goes in the recipe slot: JSON text (maybe broken, NaN tokens included) or not text at all."""
    shape = data.draw(st.sampled_from(["valid"] * 5 + ["fuzzed"] * 6 + ["cut", "junk", "deep", "long", "bytes"]))
    if shape in ("valid", "fuzzed", "cut"):
        text = json.dumps(data.draw(recipe_strategy(studio, valid=shape == "valid")), allow_nan=True)
        return text[:data.draw(st.integers(0, max(0, len(text) - 1)))] if shape == "cut" else text
    if shape == "junk":
        return data.draw(JUNK)
    if shape == "deep":
        return data.draw(st.sampled_from(["[", '{"a":', '{"seed": 1, "spec": {"hair": ['])) * data.draw(
            st.integers(500, 5000))
    if shape == "long":
        return "x" * data.draw(st.sampled_from([16_384, 16_385, 100_000]))
    return data.draw(st.binary(max_size=40)).decode("latin-1")


def expected_design(designer: Designer, value) -> tuple[str, object]:
    """What /design must answer for one recipe value: the handler run in this process (``_save`` patched)."""
    try:
        return "png", designer.design(value)
    except gr.Error as e:
        return "error", e.message


def test_fuzz_design_and_variations(served, http, studio, monkeypatch):
    """>= 500 generated requests: each answer a valid PNG (the exact bytes) or a clear error; 0 server errors."""
    monkeypatch.setattr(ui, "_save", lambda data, name: data)        # the in-process oracle returns bytes
    designer = Designer(studio)
    config = http.get(served.url + "/config").json()
    index = {d["api_name"]: d["id"] for d in config["dependencies"]}
    names = [*studio.attributes, *studio.colors]
    sent = {"requests": 0, "png": 0, "error": 0, "refused": 0, "variations": 0}

    def send(endpoint: str, data: object, via_queue: bool) -> Answer | tuple[int, object]:
        sent["requests"] += 1
        if not via_queue:
            return call(http, served.url, endpoint, raw=json.dumps({"data": data}, allow_nan=True).encode())
        return join(http, served.url, index[endpoint], data)

    @settings(max_examples=FUZZ_REQUESTS, derandomize=True, database=None, deadline=None,
              suppress_health_check=list(HealthCheck))
    @given(st.data())
    def one_request(data):
        endpoint = data.draw(st.sampled_from(["design"] * 4 + ["variations"]))
        text = recipe_text(data, studio)
        args = [text] if endpoint == "design" else [text, data.draw(st.one_of(
            st.lists(st.sampled_from([*names, "wings"]), max_size=3), JUNK))]
        shape = data.draw(st.sampled_from(["ok"] * 8 + ["fewer", "more", "not a list"]))
        args = {"ok": args, "fewer": args[:-1], "more": [*args, data.draw(JUNK)], "not a list": data.draw(JUNK)}[shape]
        via_queue = data.draw(st.booleans())
        answer = send(endpoint, args, via_queue)
        if via_queue:                                   # normalise the page protocol's answer to an Answer
            status, result = answer
            if status != 200:
                answer = Answer(status, "refused", json.dumps({"detail": result}), 0.0)
            elif result["success"]:
                answer = fetch_files(http, result["output"]["data"])
            else:
                answer = Answer(200, "error", result["output"]["error"], 0.0)
        sent[answer.kind] = sent.get(answer.kind, 0) + 1
        sent["variations"] += endpoint == "variations"
        assert answer.kind in ("png", "error", "refused"), answer
        if answer.kind == "refused":                    # only a malformed call, by the guard
            assert shape != "ok" and answer.status == 422, answer
            assert_clear(json.loads(answer.detail)["detail"])
        elif answer.kind == "error":
            assert_clear(answer.detail)
        if endpoint == "design" and shape == "ok":      # the answer must be the handler's own
            kind, want = expected_design(designer, json.loads(json.dumps(text, allow_nan=True)))
            assert answer.kind == kind, (text if len(str(text)) < 300 else "...", answer, want)
            if kind == "png":
                assert answer.images == [want], answer
            elif "nested too deeply" in answer.detail + want:   # where recursion runs out depends on the stack
                assert answer.detail.startswith("recipe is not valid JSON") and want.startswith("recipe is not"), want
            else:
                assert answer.detail == want, (answer, want)
        elif endpoint == "variations" and answer.kind == "png":
            assert len(answer.images) == 8

    t0 = time.monotonic()
    one_request()
    seconds = time.monotonic() - t0
    print(f"\nfuzz: {sent} in {seconds:.1f} s")
    assert sent["requests"] >= 500 and sent["png"] >= 50 and sent["error"] >= 200 and sent["variations"] >= 50
    assert served.alive
    output = served.output()
    assert "Traceback" not in output and "ERROR" not in output and "Exception" not in output, output[-3000:]


# ---- recipe upload -----------------------------------------------------------------------------
def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    Image.new("RGBA", (width, height)).save(buf, format="PNG")
    return buf.getvalue()


def _bomb_png() -> bytes:
    """A small PNG whose header claims 100,000 x 100,000 pixels (a decompression bomb if decoded)."""
    data = bytearray(_png(1, 1))
    ihdr = data.index(b"IHDR")
    data[ihdr + 4:ihdr + 12] = struct.pack(">II", 100_000, 100_000)
    data[ihdr + 17:ihdr + 21] = struct.pack(">I", zlib.crc32(bytes(data[ihdr:ihdr + 17])))
    return bytes(data)


UPLOADS = {   # file name, bytes -> words of the error (None: opens)
    "ok.json": (recipe(seed=777).encode(), None),
    "near-limit.json": (b" " * 40_000 + recipe().encode(), "too large"),
    "deep-array.json": (b"[" * 15_000, "nested too deeply"),
    "deep-object.json": (b'{"a":' * 3000, "nested too deeply"),
    "latin1.json": ('{"seed": 1, "spec": {"hair": "caf\u00e9"}}'.encode("latin-1"), "utf-8"),
    "bom.json": (("\ufeff" + recipe()).encode("utf-8"), "not valid JSON"),
    "nul.json": (b"\x00" * 100, "not valid JSON"),
    "nan.json": (b'{"seed": 1, "spec": {}, "truncation": NaN}', "NaN"),
    "list.json": (b"[]", "JSON object"),
    "avatar.json": (_png(64, 64), "utf-8"),
    "bomb.json": (_bomb_png(), ""),
    "bomb.png": (_bomb_png(), "no Avatar Studio recipe"),   # read as bytes for its text chunk, never decoded
    "avatar.svg": (b"<svg/>", ""),
}


def _upload(http: httpx.Client, base: str, name: str, content: bytes) -> httpx.Response:
    return http.post(f"{base}/gradio_api/upload", files={"files": (name, content)})


def test_recipe_upload_is_size_limited_and_parsed_safely_and_images_are_never_opened(app, http, watch, monkeypatch):
    opened = []
    monkeypatch.setattr(Image, "open", lambda *a, **k: opened.append(a) or pytest.fail("an upload was opened as an image"))
    folder = Path(gr.utils.get_upload_folder())
    for size in (10_000_000, 1_100_000):            # over the body limit; over Gradio's max_file_size (1 MB)
        name = f"big-{uuid.uuid4().hex}.json"
        r = _upload(http, app.url, name, b" " * size)
        assert r.status_code == 413, r.text
        assert not list(folder.glob(f"*/{name}"))
    fn = app.index["open_file"]
    for name, (content, needle) in UPLOADS.items():
        r = _upload(http, app.url, name, content)
        assert r.status_code == 200, (name, r.text)
        upload = {"path": r.json()[0], "orig_name": name, "meta": {"_type": "gradio.FileData"}}
        status, result = join(http, app.url, fn, [upload, "en"])
        if not name.endswith((".json", ".png")):        # refused before Gradio reads it
            assert status == 422 and "takes only .json, .png files" in result, (name, status, result)
        elif needle is None:
            assert status == 200 and result["success"], (name, result)
            assert result["output"]["data"][0] == 777              # the form's seed
        else:                                           # one warning toast; the form is left as it is
            assert status == 200 and result["success"], (name, result)
            assert all(v == {"__type__": "update"} for v in result["output"]["data"]), (name, result)
        r = http.get(f"{app.url}/gradio_api/file={upload['path']}")   # uploads are never served back
        assert r.status_code == 403 and "never served back" in r.json()["detail"]
    assert opened == [] and watch.passes == 0 and watch.problems == []


def test_no_event_takes_an_image_and_pil_keeps_its_bomb_guard(app):
    image_kinds = (gr.Image, gr.Gallery, gr.ImageEditor, gr.AnnotatedImage, gr.ImageSlider, gr.Video, gr.Model3D)
    file_inputs = set()
    for fn in app.demo.fns.values():
        for block in fn.inputs:
            assert not isinstance(block, image_kinds), (fn.name, block)
            if getattr(block, "data_model", None) is not None and "File" in block.data_model.__name__:
                file_inputs.add(block)
    assert [type(b).__name__ for b in file_inputs] == ["UploadButton"]
    (upload,) = file_inputs
    assert upload.file_types == [".json", ".png"] and upload.type == "filepath" and upload.file_count == "single"
    assert Image.MAX_IMAGE_PIXELS is not None and Image.MAX_IMAGE_PIXELS <= 89_478_485   # PIL's default guard


# ---- start-up --------------------------------------------------------------------------------
NETWORK_PROBE = textwrap.dedent("""
    import json, socket, sys
    weights, port = sys.argv[1], int(sys.argv[2])
    seen = []
    def refuse(what):
        seen.append(what)
        raise OSError(101, "network unreachable (test)")
    def allowed(address):
        return isinstance(address, tuple) and address[:2] in (("127.0.0.1", port), ("::1", port))
    connect, connect_ex, resolve = socket.socket.connect, socket.socket.connect_ex, socket.getaddrinfo
    def checked(real):
        def method(self, address):
            if self.family in (socket.AF_INET, socket.AF_INET6) and not allowed(address):
                refuse(["connect", str(address[0]), address[1]])
            return real(self, address)
        return method
    socket.socket.connect, socket.socket.connect_ex = checked(connect), checked(connect_ex)
    def getaddrinfo(host, port_, *args, **kwargs):
        if host not in ("127.0.0.1", "::1", "localhost", None):
            refuse(["getaddrinfo", str(host), port_])
        return resolve(host, port_, *args, **kwargs)
    socket.getaddrinfo = getaddrinfo
    create_connection = socket.create_connection
    def create(address, *args, **kwargs):
        if not allowed(address):
            refuse(["create_connection", str(address[0]), address[1]])
        return create_connection(address, *args, **kwargs)
    socket.create_connection = create
    from avatar_studio import AvatarStudio
    from avatar_studio.serving import launch
    from avatar_studio.ui import build_demo
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    demo = build_demo(studio)
    at_build = list(seen)
    launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    demo.close()
    print("SEEN " + json.dumps({"start-up": at_build, "with launch": seen[len(at_build):]}))
""")


def test_start_up_with_the_hub_unreachable_makes_no_network_call(tiny_weights):
    """HF_HUB_OFFLINE unset, once with the real Hub endpoint, once with a bogus one on 127.0.0.1:9."""
    base = {k: v for k, v in os.environ.items() if k not in ("HF_HUB_OFFLINE", "GRADIO_ANALYTICS_ENABLED", "HF_ENDPOINT")}
    envs = {"hub": base, "bogus endpoint": {**base, "HF_ENDPOINT": "http://127.0.0.1:9"}}
    runs = {name: subprocess.Popen([sys.executable, "-c", NETWORK_PROBE, str(tiny_weights), str(free_port())],
                                   env={**env, "OMP_WAIT_POLICY": "PASSIVE"}, cwd=ROOT, text=True,
                                   stdout=subprocess.PIPE, stderr=subprocess.PIPE) for name, env in envs.items()}
    for name, proc in runs.items():
        out, err = proc.communicate(timeout=240)
        assert proc.returncode == 0, (name, err[-3000:])
        seen = json.loads(next(line[5:] for line in out.splitlines() if line.startswith("SEEN ")))
        assert seen == {"start-up": [], "with launch": []}, (name, seen)


def _damage(folder: Path, kind: str) -> Path:
    path = folder / "model.safetensors"
    data = path.read_bytes()
    if kind == "truncated":
        path.write_bytes(data[:len(data) // 2])
    elif kind == "bit-flipped":
        path.write_bytes(data[:-100] + bytes([data[-100] ^ 1]) + data[-99:])
    elif kind == "garbage":
        path.write_bytes(os.urandom(len(data)))
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "a folder":
        path.unlink()
        path.mkdir()
    return path


DAMAGE = ["truncated", "bit-flipped", "garbage", "empty", "a folder"]
TIMED_APP = textwrap.dedent("""
    import json, os, runpy, sys, time
    import avatar_studio, avatar_studio.ui   # imported before the clock starts: only app.py's own work is timed
    results = {}
    for kind, folder in json.loads(sys.argv[1]).items():
        os.environ["AVATAR_STUDIO_WEIGHTS"] = folder
        t0 = time.perf_counter()
        try:
            runpy.run_path("app.py", run_name="__main__")
            results[kind] = ["served", None, 0]
        except SystemExit as e:
            results[kind] = [type(e.code).__name__, str(e.code), time.perf_counter() - t0]
    print("RESULTS " + json.dumps(results))
""")


def test_app_refuses_damaged_weights_at_start_quickly_naming_the_file(tiny_weights, tmp_path):
    folders = {}
    for kind in DAMAGE:
        folders[kind] = tmp_path / kind.replace(" ", "-")
        shutil.copytree(tiny_weights, folders[kind])
        _damage(folders[kind], kind)
    env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE"}
    plain = subprocess.Popen([sys.executable, "app.py"], cwd=ROOT, text=True, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, env={**env, "AVATAR_STUDIO_WEIGHTS": str(folders["truncated"])})
    timed = subprocess.run([sys.executable, "-c", TIMED_APP, json.dumps({k: str(v) for k, v in folders.items()})],
                           cwd=ROOT, env=env, capture_output=True, text=True, timeout=240)
    out, err = plain.communicate(timeout=240)
    assert plain.returncode == 1 and out == ""
    assert str(folders["truncated"] / "model.safetensors") in err and "is damaged" in err
    assert "Traceback" not in err and err.startswith("Avatar Studio cannot start:")
    assert timed.returncode == 0, timed.stderr[-3000:]
    results = json.loads(next(line[8:] for line in timed.stdout.splitlines() if line.startswith("RESULTS ")))
    for kind, (code_type, message, seconds) in results.items():
        assert code_type == "str", (kind, message)          # sys.exit(text): text on stderr, exit status 1
        assert str(folders[kind] / "model.safetensors") in message, (kind, message)
        assert seconds < 2.0, (kind, seconds)
    assert "Traceback" not in timed.stderr


# ---- exposure --------------------------------------------------------------------------------
def _first_file(folder: Path, limit: int = 500) -> Path | None:
    """Some file under ``folder`` (read-only walk, bounded), to ask the server for."""
    for n, (root, _, files) in enumerate(os.walk(folder)):
        if files:
            return Path(root) / files[0]
        if n > limit:
            break
    return None


def _get(base: str, path: str) -> tuple[int, bytes]:
    """GET with the path sent exactly as written (no client-side ../ clean-up)."""
    host, port = base.removeprefix("http://").split(":")
    conn = HTTPConnection(host, int(port), timeout=30)
    try:
        conn.request("GET", path)
        r = conn.getresponse()
        return r.status, r.read()
    finally:
        conn.close()


def test_file_routes_serve_nothing_outside_the_apps_own_files(served, tiny_weights):
    secrets_ = [Path("/etc/passwd"), Path("/proc/self/environ"), ROOT / "app.py", ROOT / "avatar_studio" / "ui.py",
                ROOT / "pyproject.toml", ROOT / ".git" / "config", tiny_weights / "model.safetensors",
                tiny_weights / "config.json", tiny_weights / "checksums.json", served.log_path,
                _first_file(ROOT / "data"), _first_file(ROOT / "runs")]
    targets = [str(p) for p in secrets_ if p is not None and p.exists()]
    targets += ["app.py", "../app.py", "./app.py", "weights/avatar-studio/model-00001-of-00003.safetensors",
                f"{served.temp_dir}/../server.log", f"{served.temp_dir}/../../../../../etc/passwd",
                f"{served.temp_dir}/%2e%2e/server.log", "%2Fetc%2Fpasswd", "%252Fetc%252Fpasswd", "~/.bashrc",
                "/etc/passwd%00.png", "..%2F..%2F..%2Fetc%2Fpasswd", "/proc/self/cwd/app.py", str(served.temp_dir)]
    routes = ["/gradio_api/file=", "/gradio_api/file/", "/file=", "/static/", "/assets/", "/svelte/",
              "/gradio_api/proxy=", "/custom_component/x/client/x/"]
    contents = {p: p.read_bytes() for p in secrets_ if p is not None and p.is_file() and p.stat().st_size < 5_000_000}
    checked = 0
    for route in routes:
        for target in targets:
            status, body = _get(served.url, route + target)
            checked += 1
            assert status >= 400, (route, target, status, body[:200])
            assert b"root:x:0:0" not in body and not any(body == c for c in contents.values() if c), (route, target)
    assert checked == len(routes) * len(targets) >= 150  # data/ and runs/ exist only where someone trained


def test_generated_files_are_served_but_uploads_remote_urls_and_strays_are_not(served, http, studio):
    answer = call(http, served.url, "design", [recipe(seed=11)])
    assert answer.kind == "png" and answer.images == [studio.render_png(recipe(seed=11))]
    made = next(served.temp_dir.glob("*/avatar-11-128.png"))
    assert _get(served.url, f"/gradio_api/file={made}")[0] == 200
    for stray in (made.parent / "avatar-12-128.png", made.parent / ".." / made.parent.name / "nothing.png",
                  served.temp_dir / ".." / "server.log", served.temp_dir):
        assert _get(served.url, f"/gradio_api/file={stray}")[0] in (403, 404), stray
    uploaded = _upload(http, served.url, "mine.json", recipe().encode()).json()[0]
    r = http.get(f"{served.url}/gradio_api/file={uploaded}")
    assert r.status_code == 403 and "never served back" in r.json()["detail"]
    for url in ("https://example.com/a.png", "http://127.0.0.1:9/a.png", f"{served.url}/config", "HTTPS://x.y/z.png"):
        r = http.get(f"{served.url}/gradio_api/file={url}")
        assert r.status_code == 403 and "never a remote URL" in r.json()["detail"], url
    r = http.get(f"{served.url}/gradio_api/proxy=http://127.0.0.1:9/a.png")
    assert r.status_code == 400


def test_no_share_link_no_dashboard_and_no_paths_in_the_config(app, served, http, tiny_weights):
    assert app.share_url is None and app.demo.share_url is None
    output = served.output()
    assert "gradio.live" not in output and "Running on public URL" not in output
    for path in ("/monitoring", "/monitoring/summary", "/monitoring/anything", "/gradio_api/monitoring"):
        assert http.get(served.url + path).status_code >= 400, path
    config = http.get(served.url + "/config").text
    for private in (str(ROOT), str(tiny_weights), str(served.temp_dir), str(served.folder)):
        assert private not in config, private
    info = http.get(served.url + "/gradio_api/info").json()
    assert set(info["named_endpoints"]) == {"/design", "/variations"} and not info["unnamed_endpoints"]

"""The live picture's fast path: a hand-made change shows its picture without waiting for Gradio's queue.

Gradio's round trip for one event (queue/join, the result stream, its status messages, the page's
bookkeeping of them) took ~160 ms of a change's ~205 ms on a quiet 2-core machine, the picture
itself ~40 ms. So the page also asks a light route on the same server (same origin, nothing
third-party) for the picture of the form as it now is, and shows it the moment it comes; the
queued step still runs and sets the same picture (the same bytes, from ``LivePictures``) along with
the recipe, the share code and the undo history. If the fast request fails or is refused, the
page simply waits for the queued step's picture, as before.

    POST /avatar-studio/live?lang=zh   {"page": "<the page's id>", "values": [<the form, Form.fields order>]}
    200  {"url": "data:image/webp;base64,..."}   (the queued step's picture of these values, byte for byte)
    4xx  {"detail": "..."}                       (what is wrong, naming the field and the allowed values,
                                                  in the page's language; never a traceback)

Fair share (the rules of fair.py, for this route): a client is its address (``guard.address_of``)
and, within it, its page; each page has at most one picture being made and one waiting, and a
newer change replaces the waiting one (latest wins: 409 to the replaced request, which the page
ignores); an address has at most ``Limits.per_address`` pages with work here; at most
``Limits.live_at_once`` pictures are made at once for everyone together, the next one taken from
the address served least recently (addresses take turns), so a flood only delays its own sender;
over its bounds a client hears 429 after ``Limits.refusal_delay``; more than ``Limits.live_waiting``
waiting in all: 503. Nothing of a request is logged; its picture is held at most a few seconds,
for the other path of the same change (``LivePictures``).
"""
from __future__ import annotations

import asyncio
import base64
import itertools
import json
import threading
import time
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Callable, Sequence
from urllib.parse import parse_qs

from avatar_studio.fair import Limits, check_session
from avatar_studio.imaging import webp_bytes
from avatar_studio.labels import LANGUAGES, Labels
from avatar_studio.messages import translate

if TYPE_CHECKING:
    from avatar_studio.form import Form
    from avatar_studio.recipe import Recipe

ROUTE = "/avatar-studio/live"
MAX_BODY = 16 * 1024            # bytes of a request: a form is ~40 short values (~1.5 kB)
KEYS = ("page", "values")


# ---- the picture: one home for the step and the route -------------------------------------------
class LivePictures:
    """The live picture of a form's values, for the queued step and the fast route alike.

    ``picture(values)``: the checked recipe the values make and its live picture as lossless WebP
    bytes (``studio.render_live``: the chosen frame and background, at most 256 px). One change
    asks twice, once on each path, so a picture made (or being made) for one is handed to the
    other instead of made again: it is held, by its recipe, until the other path takes it or
    ``keep`` seconds pass (at most ``most`` pictures; the same recipe makes the same bytes for
    anyone, so whichever path made it is the same). Nothing else is kept, nothing logged.
    """

    def __init__(self, form: "Form", keep: float = 2.0, most: int = 64):
        self.form, self.keep, self.most = form, keep, most
        self._held: dict[str, tuple[float, Future]] = {}        # recipe JSON -> (when made, its WebP bytes)
        self._lock = threading.Lock()

    def picture(self, values: Sequence[Any]) -> tuple["Recipe", bytes]:
        r = self.form.studio.check_recipe(self.form.recipe_of(values))
        key, now = r.to_json(), time.monotonic()
        with self._lock:
            for old in [k for k, (t, _) in self._held.items() if now - t > self.keep]:
                del self._held[old]
            held = self._held.pop(key, None)                     # the other path's: taken once
            if held is None:
                mine = Future()
                self._held[key] = now, mine
                while len(self._held) > self.most:
                    del self._held[next(iter(self._held))]
        if held is not None:
            return r, held[1].result()
        try:
            mine.set_result(webp_bytes(self.form.studio.render_live(r)))
        except BaseException as e:
            mine.set_exception(e)
            with self._lock:
                self._held.pop(key, None)
            raise
        return r, mine.result()


def data_uri(webp: bytes) -> str:
    """The picture as the page's <img> takes it (no file written, no second request)."""
    return "data:image/webp;base64," + base64.b64encode(webp).decode("ascii")


# ---- the page's side ----------------------------------------------------------------------------
# PAGE_JS runs on every hand-made change of a form control (a Gradio event with no Python function,
# wired before the queued step, given the page's language and the form's values). It posts them, and
# puts the answer into the avatar's <img> unless a newer change has asked since. Until the queued step
# catches up (its picture is this one) or PIN_MS pass, a picture Gradio sets from an older change is
# put back to the newer one. Any failure: nothing happens here, and the queued step's picture comes.
# STEP_JS runs as the queued step starts (its ``js``, given the step's inputs, handed on unchanged): it
# lets the fast answer come first, for at most WAIT_MS, so that the page's work for the step (its
# queue round trip and status messages) does not hold up the fast picture's paint, nor the step's
# render the fast one's on a small server (where the step then finds the picture made: LivePictures).
PIN_MS, WAIT_MS = 3000, 1000
PAGE_JS = """(lang, ...values) => {
  const s = window.__avatarLive || (window.__avatarLive = {asked: 0, pin: null, until: 0, watch: null, answer: null,
    page: Array.from(crypto.getRandomValues(new Uint8Array(12)), (b) => b.toString(16).padStart(2, '0')).join('')});
  const box = document.querySelector('#avatar'); if (!box) return;
  if (!s.watch) {
    const image = (n) => n.nodeName === 'IMG' || (n.querySelector && n.querySelector('img'));
    s.watch = new MutationObserver((records) => {      // (the progress spinner's comings and goings: not a picture)
      if (!s.pin || !records.some((r) => r.type === 'attributes' || [...r.addedNodes].some(image))) return;
      const img = box.querySelector('img');
      if (!img || performance.now() > s.until || img.getAttribute('src') === s.pin) { s.pin = null; return; }
      img.src = s.pin; s.watch.takeRecords();
    });
    s.watch.observe(box, {subtree: true, childList: true, attributes: true, attributeFilter: ['src']});
  }
  const asked = ++s.asked;
  s.answer = fetch('ROUTE?lang=' + encodeURIComponent(lang), {method: 'POST',
        headers: {'content-type': 'application/json'}, body: JSON.stringify({page: s.page, values: values})})
    .then((r) => r.ok ? r.json() : null)
    .then((answer) => {
      const img = box.querySelector('img');
      if (!answer || asked !== s.asked || !img) return;
      if (img.getAttribute('src') === answer.url) { s.pin = null; return; }     // the step was first
      s.pin = answer.url; s.until = performance.now() + PIN_MS;
      img.src = answer.url; s.watch.takeRecords();
    })
    .catch(() => {});
}""".replace("ROUTE", ROUTE.lstrip("/")).replace("PIN_MS", str(PIN_MS))
STEP_JS = """async (...inputs) => { const s = window.__avatarLive;
  if (s && s.answer) await Promise.race([s.answer, new Promise((done) => setTimeout(done, WAIT_MS))]);
  return inputs; }""".replace("WAIT_MS", str(WAIT_MS))


# ---- fair share ---------------------------------------------------------------------------------
class Refused(Exception):
    """A request this route does not serve: its HTTP status and what to tell the page."""

    def __init__(self, status: int, detail: str):
        super().__init__(detail)
        self.status, self.detail = status, detail


@dataclass
class _Job:
    address: str
    work: Callable[[], Any]
    done: asyncio.Future = field(default_factory=lambda: asyncio.get_running_loop().create_future())


class Lane:
    """Who has a picture being made or waiting on this route, and whose turn is next.

    A key is (address, page). Used on the server's event loop only (not thread-safe); the
    pictures are made in worker threads, at most ``limits.live_at_once`` at a time.
    """

    def __init__(self, limits: Limits = Limits()):
        self.limits = limits
        self.running: dict[tuple[str, str], int] = {}       # key -> pictures being made (0 or 1)
        self.waiting: dict[tuple[str, str], _Job] = {}      # key -> its one waiting job
        self.served: dict[str, int] = {}                    # address -> when it was last served (a count)
        self.clock = itertools.count(1)
        self.busy = 0                                       # pictures being made, all clients

    def _pages(self, address: str) -> int:
        return len({k for k in (*self.running, *self.waiting) if k[0] == address})

    async def run(self, address: str, page: str, work: Callable[[], Any], messages: "Messages") -> Any:
        """``work()``'s result, made in a worker thread when it is this client's turn; Refused when a newer
        request of the same page replaced it, or the client or the route is over its bounds."""
        key = (address, page)
        replaced = self.waiting.pop(key, None)
        if replaced is not None:                            # latest wins
            replaced.done.set_exception(Refused(409, messages.say("live_replaced")))
        elif key not in self.running and self._pages(address) >= self.limits.per_address:
            await asyncio.sleep(self.limits.refusal_delay)   # a tight loop of refusals costs its sender time
            raise Refused(429, messages.say("live_too_many_pages", most=self.limits.per_address))
        elif len(self.waiting) >= self.limits.live_waiting:
            raise Refused(503, messages.say("live_busy"))
        job = self.waiting[key] = _Job(address, work)
        self._start()
        return await job.done

    def _start(self) -> None:
        while self.waiting and self.busy < self.limits.live_at_once:
            ready = [(k, j) for k, j in self.waiting.items() if not self.running.get(k)]
            if not ready:
                return
            key, job = min(ready, key=lambda kj: self.served.get(kj[0][0], 0))   # least recently served first
            del self.waiting[key]
            self.served[job.address] = next(self.clock)
            self.running[key] = 1
            self.busy += 1
            asyncio.get_running_loop().create_task(self._make(key, job))
        if len(self.served) > 10_000:                       # forget addresses with nothing here
            active = {k[0] for k in (*self.running, *self.waiting)}
            self.served = {a: t for a, t in self.served.items() if a in active}

    async def _make(self, key: tuple[str, str], job: _Job) -> None:
        try:
            result = await asyncio.to_thread(job.work)
        except Exception as e:                              # handed to the request, which answers it
            if not job.done.done():
                job.done.set_exception(e)
        else:
            if not job.done.done():
                job.done.set_result(result)
        finally:
            self.running.pop(key, None)
            self.busy -= 1
            self._start()


# ---- the route ----------------------------------------------------------------------------------
class Messages:
    """The route's own messages and the studio's errors, in one page language."""

    def __init__(self, labels: Labels, lang: str):
        self.labels, self.lang = labels, lang

    def say(self, key: str, **values: Any) -> str:
        return self.labels.ui(self.lang, key).format(**values)

    def error(self, error: Exception) -> str:
        return translate(self.labels, self.lang, str(error)[:500])


class FastPath:
    """ASGI middleware: POST ``ROUTE`` answers the live picture of a form (module docstring); every other
    request passes untouched."""

    def __init__(self, app, pictures: LivePictures, lane: Lane, address: Callable[[dict], str]):
        self.app, self.pictures, self.lane, self.address = app, pictures, lane, address
        self.labels = Labels.load()

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["path"] != ROUTE:
            return await self.app(scope, receive, send)
        lang = parse_qs(scope.get("query_string", b"").decode("latin-1")).get("lang", ["en"])[0]
        messages = Messages(self.labels, lang if lang in LANGUAGES else "en")
        try:
            if lang not in LANGUAGES:
                raise Refused(422, messages.say("live_bad_language", got=repr(lang[:20]), choices=", ".join(LANGUAGES)))
            if scope["method"] != "POST":
                raise Refused(405, messages.say("live_post_only"))
            page, values = self._request(await _body(scope, receive, messages), messages)

            def work() -> str:
                return data_uri(self.pictures.picture(values)[1])
            try:
                status, answer = 200, {"url": await self.lane.run(self.address(scope), page, work, messages)}
            except Refused:
                raise
            except (ValueError, TypeError) as e:            # the studio's and the form's checks
                raise Refused(422, messages.error(e)) from None
            except Exception:                               # a fault of the app: said, never logged with the values
                raise Refused(500, messages.say("live_failed")) from None
        except Refused as r:
            status, answer = r.status, {"detail": r.detail}
        data = json.dumps(answer, ensure_ascii=False).encode("utf-8")
        await send({"type": "http.response.start", "status": status, "headers": [
            (b"content-type", b"application/json; charset=utf-8"), (b"content-length", str(len(data)).encode()),
            (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": data})

    def _request(self, body: bytes, messages: Messages) -> tuple[str, list]:
        """The page id and the form values of a request body."""
        try:
            request = json.loads(body)
        except (ValueError, RecursionError):
            raise Refused(400, messages.say("live_not_json")) from None
        if not isinstance(request, dict):
            raise Refused(422, messages.say("live_not_object", keys=", ".join(KEYS)))
        unknown = [k for k in request if k not in KEYS]
        missing = [k for k in KEYS if k not in request]
        if unknown or missing:
            key = "live_unknown_key" if unknown else "live_missing_key"
            raise Refused(422, messages.say(key, got=repr(str((unknown or missing)[0])[:40]), keys=", ".join(KEYS)))
        try:
            page = check_session(request["page"])
        except ValueError:
            page = None
        if page is None:
            raise Refused(422, messages.say("live_bad_page"))
        values, fields = request["values"], self.pictures.form.fields
        if not isinstance(values, list) or len(values) != len(fields):
            got = len(values) if isinstance(values, list) else type(values).__name__
            raise Refused(422, messages.say("live_bad_values", count=len(fields), got=got,
                                            fields=", ".join(fields[:3]) + ", ..."))
        return page, values


async def _body(scope, receive, messages: Messages) -> bytes:
    """The request body, refused past MAX_BODY bytes (by its declared length, then as it arrives)."""
    declared = dict(scope.get("headers", [])).get(b"content-length")
    too_large = Refused(413, messages.say("live_too_large", most=MAX_BODY))
    if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY):
        raise too_large
    chunks, size = [], 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise Refused(400, messages.say("live_not_json"))
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > MAX_BODY:
            raise too_large
        chunks.append(chunk)
        if not message.get("more_body"):
            return b"".join(chunks)

"""RequestGuard: the ASGI middleware in front of Gradio's routes (``serving.launch`` installs it).

Left alone, Gradio answers an unknown endpoint or event index, or a stream for an unknown
event, with a 500 and a logged traceback; runs an event with surplus arguments silently
dropped and answers missing ones with a traceback; fetches any public URL through /file=;
serves back whatever anyone uploaded; lets /stream replace a queued event's inputs; prints
request paths; and runs every event anyone joins, for whoever joins most. Here an event request
must name an event of this page (by name, only the public API) and send exactly its inputs,
within its client's bounds (fair.py); a stream must be for a live session; /file= serves
neither remote URLs nor uploads (the app reads those, nobody else); an upload is one file.
Anything else gets a 4xx whose JSON "detail" says why, and no handler runs.

Gradio internals this relies on (gradio 6.31; recheck them on every Gradio upgrade):
  - routes: POST /gradio_api/queue/join {"fn_index", "data", "session_hash", "event_data"},
    POST /gradio_api/{call,call/v2,run,api}/<api_name>, GET /gradio_api/queue/data?session_hash=,
    GET /gradio_api/call/<name>/<event_id>, GET|HEAD /gradio_api/file=<path>,
    POST /gradio_api/upload (multipart; answers the stored paths, a background task moves the
    files there after the answer), POST /gradio_api/stream/<event_id> (replaces event.data),
    GET /gradio_api/custom_component/... (prints its path)
  - ``scope["app"].get_blocks()``; ``Blocks.fns`` (index -> BlockFunction with .fn, .inputs, .name,
    .api_name, .api_visibility, .collects_event_data, .concurrency_id, .connection);
    ``Block.skip_api``, ``.data_model``, ``.file_types``
  - ``Blocks.upload_file_set`` (every uploaded path; also ``Blocks.temp_file_sets[0]``) and
    ``Blocks._queue``: ``.push(body, request, username)`` (appends the event to its lane with no
    await before it returns), ``.event_ids_to_events`` (id -> Event with .session_hash,
    .concurrency_id, .enqueue_time, .alive), ``.event_queue_per_concurrency_id[lane].queue`` (a
    list served from its head), ``.active_jobs`` (lists of running events, a finished one set to
    None before its result goes out), ``.max_size`` and ``len(queue)`` (events in lanes),
    ``.clean_events(event_id=)``, ``.pending_event_ids_session`` and
    ``.pending_messages_per_session`` (session -> its messages), ``.send_message(event, message)``
    (puts it in the session's messages while ``event.alive``); the result stream closes after a
    ``ProcessCompletedMessage`` whose event id was the session's last pending one
  - ``gradio.server_messages.ProcessCompletedMessage``, ``gradio.utils.error_payload``
  - ``gradio.utils.get_upload_folder()``; uvicorn's X-Forwarded-For rewriting, which
    ``serving.launch`` turns off (FORWARDED_ALLOW_IPS="")
  - ``processing_utils.check_all_files_in_cache``, ``client_utils.is_valid_file``,
    ``client_utils.is_file_obj_with_meta``, ``gradio.data_classes.FileData``
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import html
import inspect
import json
import os
import re
import time
from pathlib import Path
from urllib.parse import parse_qs

import gradio as gr
from gradio import processing_utils
from gradio import utils as gradio_utils
from gradio.data_classes import FileData
from gradio.server_messages import ProcessCompletedMessage
from gradio_client import utils as client_utils

from avatar_studio.fair import Ledger, check_session, client_address
from avatar_studio.labels import LANGUAGES, Labels

EVENT_CALL = re.compile(r"(?:/.*)?/gradio_api/(?:queue/join|(?P<route>call/v2|call|run|api)/(?P<name>[^/]+))/?")
EVENT_STREAM = re.compile(r"(?:/.*)?/gradio_api/(?:queue/data|call/(?:v2/)?[^/]+/(?P<event>[^/]+))/?")
STREAM_INPUT = re.compile(r"(?:/.*)?/gradio_api/stream/(?P<event>[^/]+)/?")
FILE_ROUTE = re.compile(r"(?:/.*)?/gradio_api/file[=/](?P<target>.*)")
UPLOAD_ROUTE = re.compile(r"(?:/.*)?/gradio_api/upload/?")
CUSTOM_COMPONENT = re.compile(r"(?:/.*)?/(?:gradio_api/)?custom_component/.*")
HEAVY_LANE = "heavy"                # the concurrency id of expensive events (ui.py puts them there)
UPLOADS = "uploads"                 # uploads go to this folder inside Gradio's cache folder, and only they
MAX_PATH = 2048                     # characters of a request path
CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def uploads_folder() -> Path:
    """Where uploads are kept (``serving`` points Gradio there): never served, whatever is in memory."""
    return Path(gradio_utils.get_upload_folder()).resolve() / UPLOADS


class RequestGuard:
    """ASGI middleware: every request to an event, a result stream, an upload or a file is checked first."""

    def __init__(self, app, ledger: Ledger | None = None, proxy_hops: int = 0):
        self.app = app
        self.ledger = ledger or Ledger()
        self.proxy_hops = proxy_hops

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        path, method, blocks = scope["path"], scope["method"], scope["app"].get_blocks()
        refusal, track = None, None
        if len(path) > MAX_PATH or CONTROL.search(path):        # nothing like it reaches a log line
            refusal = 400, "the request path is too long or has control characters"
        elif CUSTOM_COMPONENT.fullmatch(path):
            refusal = 404, "this app has no custom components"
        elif method == "POST" and (m := EVENT_CALL.fullmatch(path)):
            body = await _read_body(receive)            # bounded by FastAPI's max_body_size
            refusal, fn, session = _check_call(blocks, m["route"], m["name"], body)
            receive = _replay(body, receive)
            if refusal is None:                         # per-client bounds; a place is held while it joins
                address, heavy, queue = self._address(scope), fn.concurrency_id == HEAVY_LANE, blocks._queue
                refusal = (_queue_full(queue, self.ledger)
                           or _refused(429, self.ledger.refusal(address, session, heavy, live_events(queue, self.ledger))))
                if refusal is None:
                    self.ledger.reserve(address, session, heavy)
                    try:
                        return await self.app(scope, receive, send)
                    finally:
                        self.ledger.release(address, session, heavy)
        elif method == "POST" and (m := STREAM_INPUT.fullmatch(path)):
            body = await _read_body(receive)
            refusal = _check_stream_input(blocks, m["event"], body)
            receive = _replay(body, receive)
        elif method == "POST" and UPLOAD_ROUTE.fullmatch(path):
            body = await _read_body(receive)
            refusal = _check_upload(scope, body) or _refused(429, self.ledger.upload_refusal(self._address(scope)))
            if refusal is None:
                return await _upload_into_folder(self.app, scope, _replay(body, receive), send)
        elif method == "GET" and (m := EVENT_STREAM.fullmatch(path)):
            refusal, track = _check_stream(blocks._queue, m["event"], scope.get("query_string", b""))
        elif method in ("GET", "HEAD") and (m := FILE_ROUTE.fullmatch(path)):
            refusal = _check_file(m["target"])
        if refusal is not None:
            status, detail = refusal
            if status == 429:                           # over its bounds: it waits, the server does not
                await asyncio.sleep(self.ledger.limits.refusal_delay)
            data = json.dumps({"detail": detail}).encode()
            await send({"type": "http.response.start", "status": status, "headers": [
                (b"content-type", b"application/json"), (b"content-length", str(len(data)).encode())]})
            return await send({"type": "http.response.body", "body": data})
        if track is None:
            return await self.app(scope, receive, send)
        self.ledger.listen(track)                       # a result stream: its session's work is wanted
        unpark(blocks._queue, self.ledger, track)
        try:
            return await self.app(scope, receive, send)
        finally:
            self.ledger.unlisten(track)

    def _address(self, scope) -> str:
        return address_of(scope, self.proxy_hops)


def address_of(scope, proxy_hops: int) -> str:
    """The client's address of a request (fair.client_address's rule)."""
    forwarded = [v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"x-forwarded-for"]
    return client_address((scope.get("client") or (None,))[0], forwarded, proxy_hops)


# ---- work nobody waits for ------------------------------------------------------------------------
def live_events(queue, ledger: Ledger) -> set[str]:
    """Ids of the events waiting (in a lane or parked) or running. A finished event leaves
    ``active_jobs`` before its result is sent; it leaves ``event_ids_to_events`` only later."""
    ids = {event._id for lane in queue.event_queue_per_concurrency_id.values() for event in lane.queue}
    ids.update(event._id for job in queue.active_jobs if job for event in job)
    ids.update(ledger.parked)
    return ids


def _queue_full(queue, ledger: Ledger) -> tuple[int, str] | None:
    """Gradio's own "queue is full", counting parked events and joins in flight too (Gradio counts neither)."""
    most = queue.max_size
    if most is not None and len(queue) + len(ledger.parked) + ledger.joining >= most:
        return 503, f"Queue is full. Max size is {most} and size is {most}."
    return None


def note_joins(queue, ledger: Ledger, proxy_hops: int) -> None:
    """Wrap the queue's ``push`` so that every event that joins is noted for its client and, when
    nobody listens for its session yet, parked before the queue can start it (no await between)."""
    push = queue.push

    async def noted_push(body, request, username):
        success, event_id, status = await push(body, request, username)
        event = queue.event_ids_to_events.get(event_id) if success else None
        if event is not None:
            ledger.add(address_of(request.scope, proxy_hops), event.session_hash, event_id,
                       event.concurrency_id == HEAVY_LANE)
            if ledger.listeners.get(event.session_hash):
                _take_turns(queue, ledger, event)
            else:
                park(queue, ledger, event)          # until someone listens for it, or dropped
        return success, event_id, status
    queue.push = noted_push


def park(queue, ledger: Ledger, event) -> None:
    """Take a queued event out of its lane until a result stream for its session opens."""
    lane = queue.event_queue_per_concurrency_id.get(event.concurrency_id)
    if lane is not None and event in lane.queue:
        lane.queue.remove(event)
        ledger.parked[event._id] = event


def unpark(queue, ledger: Ledger, session: str) -> None:
    """Put a session's parked events back into their lanes (clients taking turns)."""
    for event_id, event in list(ledger.parked.items()):
        if event.session_hash == session:
            del ledger.parked[event_id]
            if event.alive:
                _take_turns(queue, ledger, event)


def _take_turns(queue, ledger: Ledger, event) -> None:
    """Put an event in its lane (if it is not there) and order the lane by turns of addresses."""
    lane = queue.event_queue_per_concurrency_id.get(event.concurrency_id)
    if lane is not None:
        if event not in lane.queue:
            lane.queue.append(event)
        ledger.round_robin(lane.queue)


async def drop_unwanted(queue, ledger: Ledger) -> int:
    """Drop parked events older than the grace (nobody listened), each telling its session why;
    forget the told ones ``told_for`` s later. Returns how many were dropped.

    The error waits in the session's messages, its event id among the session's pending ones, so
    a result stream that opens late hears it and closes (the page shows it and stops waiting).
    """
    now, dropped, limits = time.monotonic(), 0, ledger.limits
    for event_id, event in list(ledger.parked.items()):
        if now - event.enqueue_time > limits.grace:
            del ledger.parked[event_id]
            if event.session_hash in queue.pending_messages_per_session:
                queue.send_message(event, ProcessCompletedMessage(
                    output=gradio_utils.error_payload(gr.Error(dropped_message(limits.grace)), True), success=False))
            await queue.clean_events(event_id=event_id)
            queue.event_ids_to_events.pop(event_id, None)
            ledger.told[event_id] = event.session_hash, now
            dropped += 1
    for event_id, (session, when) in list(ledger.told.items()):
        if now - when > limits.told_for or session not in queue.pending_messages_per_session:
            del ledger.told[event_id]
            ids = queue.pending_event_ids_session.get(session)
            if ids is not None:
                ids.discard(event_id)
                if not ids:
                    queue.pending_event_ids_session.pop(session, None)
    ledger.prune(live_events(queue, ledger))
    return dropped


@functools.cache
def dropped_message(grace: float) -> str:
    """Why an event was dropped, in every language of the page (which language a page shows is
    not in its events)."""
    labels = Labels.load()
    return " / ".join(labels.ui(lang, "request_dropped").format(seconds=f"{grace:g}") for lang in LANGUAGES)


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


def _check_call(blocks: gr.Blocks, route: str | None, name: str | None, body: bytes):
    """(refusal or None, the event's BlockFunction, the session id) of an event request."""
    refusal, request = _json_object(body)
    if refusal is not None:
        return refusal, None, None
    public = {fn.api_name: fn for fn in blocks.fns.values() if fn.api_visibility == "public" and fn.fn}
    if route is None:                                   # queue/join: the page's events, by index
        index = request.get("fn_index")
        fn = blocks.fns.get(index) if type(index) is int else None
        if fn is None or fn.fn is None:
            return (404, f"no event {str(index)[:40]} on this page"), None, None
        try:
            session = check_session(request.get("session_hash"))
        except ValueError as e:
            return (422, str(e)), None, None
    elif name not in public:
        return (404, f"no API endpoint {name[:40]!r}; this app offers: {', '.join('/' + n for n in public)}"), None, None
    else:
        fn, session = public[name], None
    if route == "call/v2":                              # a public endpoint's inputs by parameter name
        params = inspect.signature(fn.fn).parameters
        unknown = [k for k in request if k not in params and k != "oauth_token"]    # Gradio drops the token
        missing = [k for k, p in params.items() if p.default is p.empty and k not in request]
        if unknown or missing:
            return (422, (f"/{name} takes {', '.join(params)}; "
                          + (f"unknown: {str(unknown[0])[:40]!r}" if unknown else f"missing: {missing[0]!r}"))), None, None
        return None, fn, session
    return _check_inputs(fn, request, by_name=route is not None), fn, session


def _check_inputs(fn, request: dict, by_name: bool) -> tuple[int, str] | None:
    """Why an event's "data" (and "event_data") are refused, or None: exactly its inputs, files only uploaded ones."""
    data, counts = request.get("data"), {len(fn.inputs)}
    if by_name:                                         # by name, session state may be left out
        counts.add(len([block for block in fn.inputs if not block.skip_api]))
    if not isinstance(data, list) or len(data) not in counts:
        got = f"{len(data)}" if isinstance(data, list) else type(data).__name__
        takes = f"/{fn.api_name} takes ({', '.join(inspect.signature(fn.fn).parameters)})" if by_name \
            else f"{fn.name} takes"
        return 422, f"{takes} {len(fn.inputs)} input value(s) as the list \"data\", got {got}"
    inputs = fn.inputs if len(data) == len(fn.inputs) else [block for block in fn.inputs if not block.skip_api]
    for block, value in zip(inputs, data):              # files: only in a file input, only uploaded ones
        if getattr(block, "data_model", None) is FileData:
            try:
                path = None if value is None else FileData.model_validate(value).path
            except ValueError:
                return 422, f"{fn.name} takes a file as {{\"path\": ..., \"meta\": {{\"_type\": \"gradio.FileData\"}}}}"
            if path is not None and not _uploaded(path):
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


def _check_stream_input(blocks: gr.Blocks, event_id: str, body: bytes) -> tuple[int, str] | None:
    """New inputs for a streaming event: the event must stream, and the inputs pass as at join."""
    event = blocks._queue.event_ids_to_events.get(event_id)
    if event is None or event.fn.connection != "stream":
        return 404, "no streaming request with that id (this app streams no inputs)"
    refusal, request = _json_object(body)
    return refusal or _check_inputs(event.fn, request, by_name=False)


def _json_object(body: bytes) -> tuple[tuple[int, str] | None, dict | None]:
    try:
        request = json.loads(body)
    except (ValueError, RecursionError):
        return (400, "the request body is not valid JSON"), None
    if not isinstance(request, dict):
        return (422, "the request body must be a JSON object"), None
    return None, request


def _check_upload(scope, body: bytes) -> tuple[int, str] | None:
    """One file per upload (the page's upload button sends one recipe)."""
    content_type = dict(scope.get("headers", [])).get(b"content-type", b"").decode("latin-1")
    boundary = re.search(r"boundary=\"?([^\";]+)", content_type)
    if boundary is None:
        return 400, "an upload is multipart/form-data"
    files = body.count(b"--" + boundary[1].encode("latin-1") + b"\r\n")
    if files != 1:
        return 422, f"upload one file at a time, got {files}"
    return None


async def _upload_into_folder(app, scope, receive, send) -> None:
    """Let Gradio store the upload, then move it into the uploads folder and answer with its new path.

    Gradio answers before its background task has put the file in place, so the answer is held
    until the whole request (background task included) is done.
    """
    held = []

    async def hold(message):
        held.append(message)
    await app(scope, receive, hold)
    start = next((m for m in held if m["type"] == "http.response.start"), None)
    body = b"".join(m.get("body", b"") for m in held if m["type"] == "http.response.body")
    if start is None or start["status"] != 200:
        for message in held:
            await send(message)
        return
    try:
        paths = [await asyncio.to_thread(_move_upload, p) for p in json.loads(body)]
        status, body = 200, json.dumps(paths).encode()
    except (OSError, ValueError, TypeError):
        status, body = 500, json.dumps({"detail": "the upload could not be stored"}).encode()
    await send({"type": "http.response.start", "status": status, "headers": [
        (b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _move_upload(path: str) -> str:
    """<cache>/<hash>/<name> -> <cache>/uploads/<hash>/<name>; returns the new path."""
    source = Path(path).resolve()
    root = uploads_folder().parent
    if not source.is_relative_to(root) or source.is_relative_to(uploads_folder()):
        raise ValueError(f"unexpected upload path {path[:80]!r}")
    target = uploads_folder() / source.relative_to(root)
    target.parent.mkdir(parents=True, exist_ok=True)
    os.replace(source, target)
    with contextlib.suppress(OSError):
        source.parent.rmdir()
    return str(target)


def _refused(status: int, reason: str | None) -> tuple[int, str] | None:
    return None if reason is None else (status, reason)


def _has_file(value: object) -> bool:
    """Whether Gradio would take part of ``value`` for a file (a FileData dict), at any depth."""
    stack = [value]
    while stack:
        item = stack.pop()
        if client_utils.is_file_obj_with_meta(item):
            return True
        stack.extend(item.values() if isinstance(item, dict) else item if isinstance(item, list) else ())
    return False


def _uploaded(path: str) -> bool:
    """Whether ``path`` (as Gradio would open it) is in the uploads folder."""
    try:
        return Path(os.path.abspath(path)).resolve().is_relative_to(uploads_folder())
    except (OSError, ValueError):
        return False


def _check_file(target: str) -> tuple[int, str] | None:
    """/file= serves the files the app made; Gradio itself refuses anything outside its folders."""
    if re.match(r"https?:", target, re.IGNORECASE):
        return 403, "this app serves only its own files, never a remote URL"
    if _uploaded(target):                                # by folder: also after a restart
        return 403, "uploaded files are read by the app, never served back"
    return None


def _check_stream(queue, event_id: str | None, query: bytes):
    """(refusal or None, the session): a result stream must be for a session or event the queue holds."""
    if event_id is None:
        session = parse_qs(query.decode("latin-1")).get("session_hash", [None])[0]
    else:                                               # as Gradio resolves it
        event = queue.event_ids_to_events.get(event_id)
        session = event.session_hash if event is not None else next(
            (s for s, ids in queue.pending_event_ids_session.items() if event_id in ids), event_id)
    if session not in queue.pending_messages_per_session:
        return (404, "no such request in the queue (it has finished, or never joined)"), None
    return None, session


def _message(error: Exception) -> str:
    """An error for the page: short, and with any HTML in echoed input made inert (toasts render HTML)."""
    return html.escape(str(error)[:500], quote=False)

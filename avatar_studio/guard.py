"""RequestGuard: the ASGI middleware in front of Gradio's routes (``serving.launch`` installs it).

Left alone, Gradio answers an unknown endpoint or event index, or a stream for an unknown
event, with a 500 and a logged traceback; runs an event with surplus arguments silently
dropped and answers missing ones with a traceback; fetches any public URL through /file=;
and serves back whatever anyone uploaded. Here an event request must name an event of this
page (by name, only the public API) and send exactly its inputs; a stream must be for a live
session; /file= serves neither remote URLs nor uploads (the app reads those, nobody else).
Anything else gets a 4xx whose JSON "detail" says why, and no handler runs.

Gradio internals this relies on (gradio 6.31; recheck them on every Gradio upgrade):
  - routes: POST /gradio_api/queue/join {"fn_index", "data", "session_hash", "event_data"},
    POST /gradio_api/{call,call/v2,run,api}/<api_name>, GET /gradio_api/queue/data?session_hash=,
    GET /gradio_api/call/<name>/<event_id>, GET|HEAD /gradio_api/file=<path>, POST /gradio_api/upload
  - ``scope["app"].get_blocks()``; ``Blocks.fns`` (index -> BlockFunction with .fn, .inputs, .name,
    .api_name, .api_visibility, .collects_event_data); ``Block.skip_api``, ``.data_model``, ``.file_types``
  - ``Blocks.upload_file_set`` (every uploaded path) and ``Blocks._queue`` with
    ``.event_ids_to_events`` (id -> Event with .session_hash), ``.pending_event_ids_session`` and
    ``.pending_messages_per_session`` (session -> its messages)
  - ``processing_utils.check_all_files_in_cache``, ``client_utils.is_valid_file``,
    ``client_utils.is_file_obj_with_meta``, ``gradio.data_classes.FileData``
"""
from __future__ import annotations

import html
import inspect
import json
import os
import re
from urllib.parse import parse_qs

import gradio as gr
from gradio import processing_utils
from gradio.data_classes import FileData
from gradio_client import utils as client_utils

EVENT_CALL = re.compile(r"(?:/.*)?/gradio_api/(?:queue/join|(?P<route>call/v2|call|run|api)/(?P<name>[^/]+))/?")
EVENT_STREAM = re.compile(r"(?:/.*)?/gradio_api/(?:queue/data|call/(?:v2/)?[^/]+/(?P<event>[^/]+))/?")
FILE_ROUTE = re.compile(r"(?:/.*)?/gradio_api/file[=/](?P<target>.*)")


class RequestGuard:
    """ASGI middleware: every request to an event, a result stream or a file is checked first."""

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


def _message(error: Exception) -> str:
    """An error for the page: short, and with any HTML in echoed input made inert (toasts render HTML)."""
    return html.escape(str(error)[:500], quote=False)

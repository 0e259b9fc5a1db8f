"""Serving the page: launch settings (one frozen value), the cache sweep, and ``launch``.

    demo = build_demo(AvatarStudio.from_pretrained())
    launch(demo)                                        # the Space's settings
    launch(demo, dataclasses.replace(SETTINGS, max_queue=4), server_port=7861)

Every request passes ``guard.RequestGuard`` (which says what of Gradio it relies on).
"""
from __future__ import annotations

import asyncio
import contextlib
import functools
import importlib.util
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gradio as gr
from gradio import utils as gradio_utils
from starlette.middleware import Middleware

from avatar_studio.cpu import release_free_memory
from avatar_studio.fair import Ledger, Limits
from avatar_studio.fastpath import FastPath, Lane
from avatar_studio.firstpaint import FirstPaint
from avatar_studio.guard import RequestGuard, address_of, drop_unwanted, note_joins, uploads_folder

CSS_FILE = Path(__file__).resolve().parent.parent / "assets" / "style.css"
MAX_BODY_BYTES = 1280 * 1024    # any request; the largest honest body is a 1 MB PNG dropped back (its recipe)


@dataclass(frozen=True)
class ServeSettings:
    """How the app is served. The defaults fit a 2-vCPU public Space: one generation at a time
    (torch already uses both cores), a bounded queue (surplus callers get Gradio's "queue is
    full"), every call through the queue, no share link, no monitoring dashboard, no run history
    kept in the browser, no extra served paths, and generated files deleted after 15 minutes."""
    concurrency: int = 1                      # events of one lane running at once
    max_queue: int = 96                       # events waiting, all lanes together
    delete_cache: tuple[int, int] = (300, 900)   # every 5 min, delete generated files older than 15 min
    state_session_capacity: int = 2000        # visitors whose page state Gradio keeps
    max_file_size: str = "1mb"                # one upload: a recipe, or a PNG made here (1024 px: ~0.55 MB)
    max_body_bytes: int = MAX_BODY_BYTES      # one request
    upload_age: float = 120                   # s an upload is kept (the page reads it at once)
    limits: Limits = Limits()                 # per client: events waiting, uploads (fair.py)
    # trusted proxies in front of the app: 1 on a Hugging Face Space (its proxy appends the
    # visitor's address to X-Forwarded-For), else 0 (the TCP peer is the client); see fair.py
    proxy_hops: int = field(default_factory=lambda: int(os.environ.get(
        "AVATAR_STUDIO_PROXY_HOPS", "1" if os.environ.get("SPACE_ID") else "0")))
    # the public endpoints (/design, /variations) also as MCP tools for LLM agents, at
    # /gradio_api/mcp (streamable HTTP) and /gradio_api/mcp/sse, when Gradio's MCP extra is
    # installed (pip install "gradio[mcp]"); its calls join the queue like any other client's
    mcp_server: bool = field(default_factory=lambda: importlib.util.find_spec("mcp") is not None)

    def queue_kwargs(self) -> dict:
        """Arguments of ``Blocks.queue``."""
        return {"default_concurrency_limit": self.concurrency, "max_size": self.max_queue, "api_open": False}

    def launch_kwargs(self) -> dict:
        """Arguments of ``Blocks.launch`` (without the server app's own, which ``launch`` adds)."""
        return {"share": False, "show_error": True, "enable_monitoring": False, "run_history": False,
                "max_file_size": self.max_file_size, "ssr_mode": False,
                "state_session_capacity": self.state_session_capacity, "css_paths": [CSS_FILE],
                "mcp_server": self.mcp_server}


SETTINGS = ServeSettings()


def launch(demo: gr.Blocks, settings: ServeSettings = SETTINGS, **overrides: Any):
    """Queue and launch with ``settings``; ``overrides`` go to ``Blocks.launch`` (server_name, ...).

    Every request passes the RequestGuard, no request body is larger than ``max_body_bytes``, and
    files in Gradio's cache folder are deleted by age (``sweep_cache``). The designer's live picture
    also has a fast path (``fastpath.FastPath``: POST /avatar-studio/live, with its own per-visitor bounds).
    """
    demo.queue(**settings.queue_kwargs())
    demo.delete_cache = settings.delete_cache
    os.environ["FORWARDED_ALLOW_IPS"] = ""      # uvicorn must not rewrite the client address: fair.py decides
    ledger = Ledger(settings.limits)
    middleware = [Middleware(RequestGuard, ledger=ledger, proxy_hops=settings.proxy_hops)]
    if getattr(demo, "first_paint", None):         # the designer's start avatar, in the page's HTML
        middleware.append(Middleware(FirstPaint, html=demo.first_paint))
    if getattr(demo, "live_pictures", None):       # the designer's fast path for its live picture
        middleware.append(Middleware(FastPath, pictures=demo.live_pictures, lane=Lane(settings.limits),
                                     address=functools.partial(address_of, proxy_hops=settings.proxy_hops)))
    app_kwargs = {"max_body_size": settings.max_body_bytes, "middleware": middleware,
                  "lifespan": lifespan(settings, ledger)}
    return demo.launch(**{**settings.launch_kwargs(), "app_kwargs": app_kwargs, **overrides})


class _Forgetful(set):
    """Stands in for Gradio's set of every uploaded path, which only grows: uploads are known by folder."""

    def add(self, item) -> None:
        pass

    def update(self, *items) -> None:
        pass


def lifespan(settings: ServeSettings, ledger: Ledger):
    """The server's lifespan: forget upload paths, drop work nobody waits for, sweep the cache."""
    sweep = sweep_cache(*settings.delete_cache, uploads_age=settings.upload_age)

    @contextlib.asynccontextmanager
    async def run(app):
        blocks = app.get_blocks()
        forgetful = _Forgetful()
        blocks.temp_file_sets = [forgetful if s is blocks.upload_file_set else s for s in blocks.temp_file_sets]
        blocks.upload_file_set = forgetful
        note_joins(blocks._queue, ledger, settings.proxy_hops)

        async def reap():
            while True:
                await asyncio.sleep(0.25)
                await drop_unwanted(blocks._queue, ledger)
        task = asyncio.create_task(reap())
        try:
            async with sweep(app):
                yield
        finally:
            task.cancel()
    return run


def sweep_cache(frequency: float, age: float, uploads_age: float | None = None):
    """A server lifespan: every ``frequency`` s, delete_old_files(Gradio's cache folder, ``age``)
    (uploads already after ``uploads_age``).

    Gradio's own delete_cache forgets the files of a session whose output components were
    re-created by an update (every language switch does that), so the app sweeps the folder
    itself, by age, whichever component made the file.
    """
    @contextlib.asynccontextmanager
    async def lifespan(app):
        async def sweep():
            while True:
                await asyncio.sleep(frequency)
                if uploads_age is not None:
                    await asyncio.to_thread(delete_old_files, uploads_folder(), uploads_age)
                await asyncio.to_thread(delete_old_files, Path(gradio_utils.get_upload_folder()), age)
                await asyncio.to_thread(release_free_memory)
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

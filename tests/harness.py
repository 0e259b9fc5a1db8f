"""The HTTP harness of the server tests (and of ``python -m benchmarks.load``): the app in a child
process on 127.0.0.1, and Gradio's HTTP API driven the way any client drives it.

  Server      the app in a child process with its own Gradio temp folder: app.py itself, or,
              when queue max_size, delete_cache or state_session_capacity change, the same
              build_demo + serving.launch with those settings changed (``python -m tests.harness``)
  call, join, fetch_files, valid_png, inline_picture    one request: POST /gradio_api/call/..., the event stream,
              the output files
  load, queue_full, soak                the load phases (see benchmarks/load.py)

All traffic goes to 127.0.0.1.
"""
from __future__ import annotations

import argparse
import base64
import io
import json
import math
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from PIL import Image

from avatar_studio.serving import SETTINGS

ROOT = Path(__file__).resolve().parent.parent
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
REQUEST_TIMEOUT = 120.0      # s, one request at most (the queue may be long)
STARTUP_TIMEOUT = 180.0      # s, for the child to import torch + gradio, load and warm
SHIPPED_DELETE_CACHE = (300, 900)


# ---- the server ------------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Server:
    """The app in a child process on 127.0.0.1 (a context manager); its output goes to a log file.

    Without settings this runs ``python app.py`` with AVATAR_STUDIO_WEIGHTS; with any of queue
    max_size, delete_cache (frequency, age) or state_session_capacity, ``python -m
    tests.harness`` (the same build_demo + serving.launch, those settings changed).
    ``env`` adds or, with None values, removes environment variables.
    """

    def __init__(self, weights: Path, *, max_size: int | None = None, delete_cache: tuple[int, int] | None = None,
                 state_capacity: int | None = None, env: dict | None = None):
        self.weights, self.extra_env = Path(weights), env or {}
        self.settings = {"--max-size": max_size, "--state-capacity": state_capacity,
                         "--delete-cache": ",".join(map(str, delete_cache)) if delete_cache else None}
        self.proc: subprocess.Popen | None = None

    def __enter__(self) -> "Server":
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.folder = Path(tempfile.mkdtemp(prefix="avatar-server-"))
        self.temp_dir = self.folder / "gradio"
        self.log_path = self.folder / "server.log"
        env = {**os.environ, "OMP_WAIT_POLICY": "PASSIVE", "GRADIO_ANALYTICS_ENABLED": "False",
               "HF_HUB_OFFLINE": "1", "GRADIO_TEMP_DIR": str(self.temp_dir), "PYTHONUNBUFFERED": "1",
               "AVATAR_STUDIO_WEIGHTS": str(self.weights), "GRADIO_SERVER_NAME": "127.0.0.1",
               "GRADIO_SERVER_PORT": str(self.port)}
        for key, value in self.extra_env.items():
            env.pop(key, None) if value is None else env.__setitem__(key, value)
        changed = [part for flag, value in self.settings.items() if value is not None for part in (flag, str(value))]
        command = ([sys.executable, "-m", "tests.harness", "--weights", str(self.weights),
                    "--port", str(self.port), *changed] if changed else [sys.executable, str(ROOT / "app.py")])
        with open(self.log_path, "wb") as log:
            self.proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT)
        try:
            self._wait_ready()
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + STARTUP_TIMEOUT
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"the app exited with {self.proc.returncode}:\n{self.output()[-3000:]}")
            try:
                if httpx.get(f"{self.url}/config", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.25)
        raise RuntimeError(f"the app did not answer within {STARTUP_TIMEOUT:.0f} s:\n{self.output()[-3000:]}")

    def __exit__(self, *exc) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=20)
        shutil.rmtree(self.folder, ignore_errors=True)

    @property
    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def rss_mb(self) -> float:
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
        raise RuntimeError("no VmRSS in /proc")

    def open_files(self) -> int:
        return len(os.listdir(f"/proc/{self.proc.pid}/fd"))

    def temp_files(self) -> int:
        return sum(len(files) for _, _, files in os.walk(self.temp_dir))    # os.walk skips what vanishes


def serve(weights: Path, port: int, max_size: int | None, delete_cache: tuple[int, int] | None,
          state_capacity: int | None) -> None:
    """app.py's start-up with some settings changed (runs in the child process)."""
    import dataclasses
    from avatar_studio import AvatarStudio
    from avatar_studio.serving import launch
    from avatar_studio.ui import build_demo
    studio = AvatarStudio.from_pretrained(weights)
    studio.render_png({"seed": 0, "spec": {}})
    changed = {"delete_cache": delete_cache, "max_queue": max_size, "state_session_capacity": state_capacity}
    settings = dataclasses.replace(SETTINGS, **{k: v for k, v in changed.items() if v is not None})
    launch(build_demo(studio), settings, server_name="127.0.0.1", server_port=port)


# ---- one request -----------------------------------------------------------------------------
@dataclass
class Answer:
    status: int          # HTTP status of the POST (200: queued)
    kind: str            # "png": every image valid; "error": the app's message; "refused": a 4xx/5xx
                         # answer to the POST; "bad-png": an image that does not decode; "broken": no end
    detail: str          # the message, for errors and refusals
    seconds: float       # POST -> result (images not fetched)
    images: list[bytes] = field(default_factory=list)     # the fetched files, when all are valid PNGs


def inline_picture(src: str | dict) -> Image.Image:
    """The picture of the live avatar as the page gets it: a data: URI (the step's image value, or the
    <img>'s src), never a file."""
    url = src["url"] if isinstance(src, dict) else src
    head, _, data = url.partition(",")
    assert head == "data:image/webp;base64" and not (isinstance(src, dict) and src.get("path")), url[:80]
    return Image.open(io.BytesIO(base64.b64decode(data)))


def valid_png(data: bytes) -> bool:
    if not data.startswith(PNG_SIGNATURE):
        return False
    try:
        with Image.open(io.BytesIO(data)) as im:
            im.verify()
        return True
    except Exception:
        return False


def _urls(tree) -> list[str]:
    if isinstance(tree, dict):
        return [tree["url"]] if isinstance(tree.get("url"), str) else [u for v in tree.values() for u in _urls(v)]
    if isinstance(tree, list):
        return [u for v in tree for u in _urls(v)]
    return []


def join(http: httpx.Client, base: str, fn_index: int | None, data: list | None = None, *, event_data=None,
         session: str | None = None, raw: bytes | None = None) -> tuple[int, dict | str]:
    """One event the way the page sends it (queue/join, then the session's queue/data stream).

    Returns (200, the process_completed message) or (the refusal's status, its detail).
    """
    session = session or uuid.uuid4().hex
    body = raw if raw is not None else json.dumps({"data": data, "fn_index": fn_index, "session_hash": session,
                                                   "event_data": event_data}, allow_nan=True).encode()
    r = http.post(f"{base}/gradio_api/queue/join", content=body, headers={"content-type": "application/json"})
    if r.status_code != 200:
        try:
            detail = r.json().get("detail")
        except ValueError:
            detail = r.text
        return r.status_code, detail if isinstance(detail, str) else json.dumps(detail)
    if raw is not None:
        session = json.loads(raw).get("session_hash")
    with http.stream("GET", f"{base}/gradio_api/queue/data", params={"session_hash": session}) as stream:
        for line in stream.iter_lines():
            if line.startswith("data:"):
                message = json.loads(line[5:])
                if message.get("msg") == "process_completed":
                    return 200, message
    return 200, "the stream ended without a result"


def fetch_files(http: httpx.Client, output: object, seconds: float = 0.0) -> Answer:
    """The files an answer points to, fetched: "png" when every one is a valid PNG."""
    urls = _urls(output)
    images = [http.get(u).content for u in urls]
    if urls and all(map(valid_png, images)):
        return Answer(200, "png", "", seconds, images)
    return Answer(200, "bad-png", f"not a valid PNG among {urls}", seconds)


def call(http: httpx.Client, base: str, endpoint: str, data: list | None = None, *, raw: bytes | None = None,
         fetch: bool = True) -> Answer:
    """One request to a named endpoint over /gradio_api/call: ``data`` as JSON, or ``raw`` body bytes."""
    t0 = time.perf_counter()
    body = raw if raw is not None else json.dumps({"data": data}).encode()
    r = http.post(f"{base}/gradio_api/call/{endpoint}", content=body, headers={"content-type": "application/json"})
    if r.status_code != 200:
        return Answer(r.status_code, "refused", r.text[:2000], time.perf_counter() - t0)
    event, payload = None, None
    with http.stream("GET", f"{base}/gradio_api/call/{endpoint}/{r.json()['event_id']}") as stream:
        for line in stream.iter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:") and event in ("complete", "error"):
                payload = line[5:].strip()
                break
    seconds = time.perf_counter() - t0
    if event == "error":
        error = json.loads(payload) if payload else None
        text = error.get("error") if isinstance(error, dict) else error
        return Answer(200, "error", str(text), seconds)
    if event != "complete" or payload is None:
        return Answer(200, "broken", f"stream ended after event {event!r}", seconds)
    if not fetch:
        return Answer(200, "png" if _urls(json.loads(payload)) else "bad-png", "", seconds)
    return fetch_files(http, json.loads(payload), seconds)


def visitor(i: int) -> httpx.Client:
    """A client from its own loopback address (127.0.1.x, ...): the app bounds work per address."""
    address = f"127.0.{1 + i // 250}.{1 + i % 250}"
    return httpx.Client(timeout=REQUEST_TIMEOUT, transport=httpx.HTTPTransport(local_address=address))


def design_data(seed: int, size: int) -> list:
    return [json.dumps({"seed": seed, "spec": {}, "size": size})]


def percentile(sorted_values: list[float], q: float) -> float:
    """Nearest-rank percentile of an ascending list."""
    return sorted_values[min(len(sorted_values) - 1, max(0, math.ceil(q * len(sorted_values)) - 1))]


# ---- the three phases ------------------------------------------------------------------------
def load(base: str, clients: int, seconds: float, size: int = 512) -> dict:
    """``clients`` threads asking one after another until ``seconds`` have passed."""
    answers: list[list[Answer]] = [[] for _ in range(clients)]
    deadline = time.monotonic() + seconds

    def client(i: int) -> None:
        with visitor(i) as http:
            n = 0
            while time.monotonic() < deadline:
                try:
                    answers[i].append(call(http, base, "design", design_data(i * 1_000_000 + n, size)))
                except httpx.HTTPError as e:
                    answers[i].append(Answer(0, "broken", f"{type(e).__name__}: {e}", 0.0))
                n += 1

    t0 = time.monotonic()
    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=seconds + REQUEST_TIMEOUT + 30)
    elapsed = time.monotonic() - t0
    every = [a for per_client in answers for a in per_client]
    ok = sorted(a.seconds for a in every if a.kind == "png")
    failures = [a for a in every if a.kind != "png"]
    return {"clients": clients, "seconds": round(elapsed, 2), "size": size, "requests": len(every),
            "errors": len(failures), "not_png": sum(a.kind == "bad-png" for a in every),
            "first_errors": sorted({f"{a.kind}: {a.detail[:200]}" for a in failures})[:5],
            "threads_still_running": sum(t.is_alive() for t in threads),
            "throughput_per_s": round(len(ok) / elapsed, 2),
            "p50_ms": round(percentile(ok, 0.50) * 1000, 1) if ok else None,
            "p99_ms": round(percentile(ok, 0.99) * 1000, 1) if ok else None,
            "max_ms": round(ok[-1] * 1000, 1) if ok else None}


def queue_full(base: str, burst: int, size: int = 512) -> dict:
    """``burst`` requests at the same moment, then one more: refused ones must say the queue is full."""
    answers: list[Answer | None] = [None] * burst
    barrier = threading.Barrier(burst)

    def one(i: int) -> None:
        with visitor(i) as http:
            barrier.wait(timeout=60)
            try:
                answers[i] = call(http, base, "design", design_data(5_000_000 + i, size))
            except httpx.HTTPError as e:
                answers[i] = Answer(0, "broken", f"{type(e).__name__}: {e}", 0.0)

    threads = [threading.Thread(target=one, args=(i,), daemon=True) for i in range(burst)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=REQUEST_TIMEOUT + 90)
    done = [a for a in answers if a is not None]
    full = [a for a in done if a.kind == "refused" and a.status == 503 and "Queue is full" in a.detail]
    other = [a for a in done if a.kind != "png" and a not in full]
    with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
        after = call(http, base, "design", design_data(6_000_000, size))
    return {"burst": burst, "answered": len(done), "png": sum(a.kind == "png" for a in done),
            "queue_full": len(full), "other": len(other),
            "queue_full_message": full[0].detail if full else None,
            "other_answers": sorted({f"{a.kind} {a.status}: {a.detail[:200]}" for a in other})[:5],
            "next_request": after.kind, "next_request_ms": round(after.seconds * 1000, 1)}


def soak(server: Server, n: int, size: int = 512, delete_cache: tuple[int, int] | None = None,
         warmup: int | None = None, state_capacity: int | None = None) -> dict:
    """``n`` requests one after another (a new seed each: a new file each); memory and temp files.

    Growth is measured from request ``warmup`` (default n/10) on. Each /call request is a Gradio
    session of its own (about 0.2 MB of page state, kept for the last state_session_capacity).
    """
    warmup = min(n, warmup or max(1, n // 10))
    errors, temp_max, rss_max = [], server.temp_files(), server.rss_mb()
    rss_start = rss_max
    t0 = time.monotonic()
    with httpx.Client(timeout=REQUEST_TIMEOUT) as http:
        for i in range(n):
            answer = call(http, server.url, "design", design_data(7_000_000 + i, size))
            if answer.kind != "png":
                errors.append(f"{answer.kind}: {answer.detail[:200]}")
            if i + 1 == warmup:
                rss_warm, files_warm = server.rss_mb(), server.open_files()
            if (i + 1) % 25 == 0 or i + 1 == n:
                temp_max, rss_max = max(temp_max, server.temp_files()), max(rss_max, server.rss_mb())
    elapsed = time.monotonic() - t0
    files_end, temp_end = server.open_files(), server.temp_files()
    swept = None
    if delete_cache is not None and sum(delete_cache) <= 60:     # wait for one sweep past the age limit
        time.sleep(delete_cache[0] + delete_cache[1] + 1)
        swept = server.temp_files()
    # what the server keeps: read after its sweep, which also hands the heap's free pages back
    rss_end = server.rss_mb()
    return {"requests": n, "seconds": round(elapsed, 1), "errors": len(errors), "first_errors": errors[:5],
            "rss_start_mb": round(rss_start, 1), "rss_after_warmup_mb": round(rss_warm, 1),
            "rss_end_mb": round(rss_end, 1), "rss_max_mb": round(rss_max, 1),
            "rss_growth_after_warmup_mb": round(rss_end - rss_warm, 1),
            "rss_growth_per_request_kb": round((rss_end - rss_warm) * 1024 / max(1, n - warmup), 1),
            "state_session_capacity": state_capacity or SETTINGS.state_session_capacity,
            "open_files_after_warmup": files_warm, "open_files_end": files_end,
            "delete_cache": list(delete_cache or SHIPPED_DELETE_CACHE),
            "temp_files_max": temp_max, "temp_files_end": temp_end, "temp_files_after_sweep": swept}


# ---- the child process ----------------------------------------------------------------------
def pair(text: str) -> tuple[int, int]:
    """'FREQUENCY,AGE' in seconds -> (frequency, age)."""
    try:
        frequency, age = (int(v) for v in text.split(","))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected FREQUENCY,AGE in seconds like 2,4, got {text!r}") from None
    if frequency < 1 or age < 1:
        raise argparse.ArgumentTypeError("delete-cache frequency and age must be >= 1 s")
    return frequency, age


def main(argv: list[str] | None = None) -> None:
    """``python -m tests.harness``: the Server's child when settings change (see ``serve``)."""
    parser = argparse.ArgumentParser(prog="python -m tests.harness", description=serve.__doc__)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--max-size", type=int, default=None)
    parser.add_argument("--delete-cache", type=pair, default=None)
    parser.add_argument("--state-capacity", type=int, default=None)
    args = parser.parse_args(argv)
    serve(args.weights, args.port, args.max_size, args.delete_cache, args.state_capacity)


if __name__ == "__main__":
    from avatar_studio.cpu import tune_cpu
    tune_cpu()
    main()

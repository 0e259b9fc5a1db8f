"""The live picture's fast path (fastpath.py): POST /avatar-studio/live.

Its fair-share rules on the Lane alone (fast tier: plain asyncio, no model); the route over HTTP on
the launched app (server tier): the same bytes as the queued step, refusals that name the field in
the page's language, one address's flood and a second address's pictures.
"""
from __future__ import annotations

import asyncio
import base64
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from types import SimpleNamespace

import httpx
import pytest

from avatar_studio.fair import Limits
from avatar_studio.fastpath import MAX_BODY, ROUTE, Lane, LivePictures, Messages, Refused
from avatar_studio.imaging import webp_bytes
from avatar_studio.form import EMPTY_HISTORY
from avatar_studio.labels import Labels
from avatar_studio.serving import launch
from avatar_studio.ui import Designer, build_demo
from tests.harness import Server, free_port, percentile

VICTIM = "127.0.0.2"            # a second loopback address: another visitor
MESSAGES = Messages(Labels.load(), "en")


# ---- the lane's rules (no model, no server) --------------------------------------------------------
class Gate:
    """Work that waits to be let through, and notes the order it started in."""

    def __init__(self):
        self.started: list[str] = []
        self.gates: dict[str, threading.Event] = {}

    def work(self, name: str):
        self.gates[name] = threading.Event()

        def run() -> str:
            self.started.append(name)
            if not self.gates[name].wait(10):
                raise TimeoutError(name)
            return name
        return run

    def open(self, name: str) -> None:
        self.gates[name].set()


async def _until(condition, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline
        await asyncio.sleep(0.005)


def test_the_lane_serves_addresses_in_turn_so_a_flood_delays_only_its_sender():
    async def scenario():
        lane, gate = Lane(Limits(per_address=8, refusal_delay=0)), Gate()
        run = lambda address, page: asyncio.ensure_future(lane.run(address, page, gate.work(page), MESSAGES))
        first = run("A", "a0")
        await _until(lambda: gate.started == ["a0"])
        flood = [run("A", f"a{i}") for i in range(1, 6)]         # five more pages of the flooding address
        await asyncio.sleep(0.01)
        victim = run("B", "b0")                                   # the other visitor asks last
        await asyncio.sleep(0.01)
        gate.open("a0")
        await _until(lambda: len(gate.started) == 2)
        assert gate.started[1] == "b0"                            # next turn: the other address
        gate.open("b0")
        assert await victim == "b0" and await first == "a0"
        for i in range(1, 6):
            await _until(lambda: f"a{i}" in gate.started)
            gate.open(f"a{i}")
        assert [await f for f in flood] == [f"a{i}" for i in range(1, 6)]
        assert lane.busy == 0 and not lane.running and not lane.waiting
    asyncio.run(scenario())


def test_the_lane_keeps_one_picture_a_page_and_the_latest_change_wins():
    async def scenario():
        lane, gate = Lane(Limits(refusal_delay=0)), Gate()
        run = lambda name: asyncio.ensure_future(lane.run("A", "page", gate.work(name), MESSAGES))
        first = run("1")
        await _until(lambda: gate.started == ["1"])
        second, third = run("2"), None
        await asyncio.sleep(0.01)
        third = run("3")                                          # replaces "2", which never runs
        with pytest.raises(Refused) as replaced:
            await second
        assert replaced.value.status == 409 and "newer change" in replaced.value.detail
        gate.open("1")
        await _until(lambda: gate.started == ["1", "3"])
        gate.open("3")
        assert await first == "1" and await third == "3" and "2" not in gate.started
    asyncio.run(scenario())


def test_the_lane_bounds_pages_per_address_and_waiting_pictures_and_passes_errors_on():
    async def scenario():
        lane, gate = Lane(Limits(per_address=2, live_waiting=2, refusal_delay=0)), Gate()
        run = lambda address, page: asyncio.ensure_future(lane.run(address, page, gate.work(page), MESSAGES))
        busy = [run("A", "a1"), run("A", "a2")]
        await _until(lambda: gate.started == ["a1"])
        with pytest.raises(Refused) as third_page:
            await lane.run("A", "a3", gate.work("a3"), MESSAGES)
        assert third_page.value.status == 429 and "at most 2 pages" in third_page.value.detail
        waiting = [run("B", "b1")]                                # two waiting now: the route is full
        await asyncio.sleep(0.01)
        with pytest.raises(Refused) as full:
            await lane.run("C", "c1", gate.work("c1"), MESSAGES)
        assert full.value.status == 503
        for turn in range(3):
            await _until(lambda: len(gate.started) > turn)
            gate.open(gate.started[turn])
        assert [await f for f in busy + waiting] == ["a1", "a2", "b1"] and gate.started == ["a1", "b1", "a2"]

        def bad() -> None:
            raise ValueError("unknown hair 'bobb'; choose one of: bob, bun (or 'any')")
        with pytest.raises(ValueError, match="unknown hair"):
            await lane.run("A", "a1", bad, MESSAGES)
        assert lane.busy == 0 and not lane.running and not lane.waiting
    asyncio.run(scenario())


# ---- one picture for both paths -----------------------------------------------------------------------
def test_a_picture_made_for_one_path_is_handed_once_to_the_other_and_not_kept(studio, monkeypatch):
    d = Designer(studio)
    made = []
    render_live = studio.render_live
    monkeypatch.setattr(studio, "render_live", lambda r: made.append(r.seed) or render_live(r))
    pictures = LivePictures(d.form, keep=0.5)
    one, other = form_values(d, seed=5), form_values(d, seed=6)
    first = pictures.picture(one)
    assert pictures.picture(one) == first and made == [5]               # the other path takes it: no second render
    assert pictures.picture(one)[1] == first[1] and made == [5, 5]      # taken once: made again
    pictures.picture(other)
    time.sleep(0.6)
    assert pictures.picture(other) and made == [5, 5, 6, 6]             # held no longer than ``keep``
    assert first[1] == webp_bytes(render_live(first[0]))
    with pytest.raises(ValueError, match="unknown hair"):
        pictures.picture(form_values(d, **{"attr:hair": "bobb"}))


# ---- the route over HTTP ------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def app(studio):
    """The page launched in this process with serving.launch (guard, limits, queue, fast path) on 127.0.0.1."""
    demo = build_demo(studio)
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield SimpleNamespace(url=url.rstrip("/"), designer=Designer(studio))
    demo.close()


def form_values(designer: Designer, **changes) -> list:
    values = dict(zip(designer.fields, designer.form.values_of(designer.form.start)[0]))
    values.update(changes)
    return [values[f] for f in designer.fields]


def ask(http: httpx.Client, base: str, values, lang: str = "en", page: str = "page1", **extra) -> httpx.Response:
    return http.post(f"{base}{ROUTE}?lang={lang}", json={"page": page, "values": values, **extra})


@pytest.mark.server
def test_the_route_answers_the_queued_steps_picture_byte_for_byte(app, studio):
    d = app.designer
    forms = [form_values(d), form_values(d, seed=777), form_values(d, frame="circle", background="colour",
                                                                      background_color="#123456"),
             form_values(d, **{"attr:hair": d.attributes["hair"][1], "any:hair_color": False,
                               "color:hair_color": "#00ff00", "size": 128, "border": True})]
    with httpx.Client(timeout=60) as http:
        for values in forms:
            r = ask(http, app.url, values)
            assert r.status_code == 200 and r.headers["content-type"].startswith("application/json"), r.text
            stepped = d.step(EMPTY_HISTORY, *values)[0]["url"]     # what the queued step shows
            assert r.json()["url"] == stepped
            made = webp_bytes(studio.render_live(studio.check_recipe(d.form.recipe_of(values))))   # made afresh
            assert r.json()["url"] == "data:image/webp;base64," + base64.b64encode(made).decode()


@pytest.mark.server
def test_the_route_refuses_bad_requests_naming_the_field_in_the_pages_language(app):
    d = app.designer
    good, hair = form_values(d), d.fields.index("attr:hair")
    bad_hair = list(good)
    bad_hair[hair] = "bobb"
    with httpx.Client(timeout=60) as http:
        def refused(r: httpx.Response, status: int, *words: str) -> str:
            assert r.status_code == status and r.headers["content-type"].startswith("application/json"), r.text
            detail = r.json()["detail"]
            assert all(w in detail for w in words) and "Traceback" not in detail, detail
            return detail
        refused(ask(http, app.url, bad_hair), 422, "unknown hair 'bobb'", "choose one of", "bob")
        refused(ask(http, app.url, bad_hair, lang="zh"), 422, "发型", "波波头")
        refused(ask(http, app.url, good[:-1]), 422, f"{len(d.fields)} control values", f"got {len(good) - 1}")
        refused(ask(http, app.url, good[:-1], lang="zh"), 422, "values 必须是", str(len(d.fields)))
        junk = [[1, [2]]] * len(good)                                       # junk values: the form's own checks
        refused(ask(http, app.url, [None] * len(good)), 422, "must be true or false, got 'None'")
        refused(ask(http, app.url, junk, lang="zh"), 422, "发色（任意）必须是“是”或“否”")
        refused(ask(http, app.url, good, colour="red"), 422, "unknown key 'colour'", "page, values")
        refused(ask(http, app.url, good, page="<script>"), 422, "page must be 1 to 64")
        refused(ask(http, app.url, good, lang="fr"), 422, "lang must be one of: en, zh", "'fr'")
        refused(http.post(f"{app.url}{ROUTE}", content=b"{oops", headers={"content-type": "application/json"}),
                400, "not valid JSON")
        refused(http.post(f"{app.url}{ROUTE}?lang=zh", content=b"[1, 2]"), 422, "JSON 对象", "page, values")
        big = json.dumps({"page": "p", "values": good + ["x" * MAX_BODY]})
        refused(http.post(f"{app.url}{ROUTE}", content=big), 413, f"at most {MAX_BODY} bytes")

        def chunks():                                            # no declared length: counted as it comes
            for _ in range(MAX_BODY // 1000 + 2):
                yield b" " * 1000
        refused(http.post(f"{app.url}{ROUTE}?lang=zh", content=chunks()), 413, "太大")
        refused(http.get(f"{app.url}{ROUTE}"), 405, "POST")
        assert ask(http, app.url, good).status_code == 200        # and the route still works


@pytest.mark.server
def test_one_address_flooding_the_route_leaves_another_addresses_pictures_prompt(tiny_weights, studio):
    """Eight pages of one address ask for pictures as fast as they can (and more pages than allowed
    are refused); a second address's pictures keep coming, each within the flood's turn."""
    with Server(tiny_weights) as server:
        designer = Designer(studio)

        def victim_run(n: int) -> list[float]:
            seconds = []
            with httpx.Client(timeout=30, transport=httpx.HTTPTransport(local_address=VICTIM)) as http:
                for seed in range(n):
                    t = time.perf_counter()
                    r = ask(http, server.url, form_values(designer, seed=seed), page="victim")
                    assert r.status_code == 200, r.text
                    seconds.append(time.perf_counter() - t)
            return sorted(seconds)

        alone = victim_run(20)
        stop, statuses = threading.Event(), []

        def flood(page: int) -> None:
            with httpx.Client(timeout=30) as http:
                seed = 1000 * page
                while not stop.is_set():
                    seed += 1
                    statuses.append(ask(http, server.url, form_values(designer, seed=seed), page=f"flood{page}").status_code)
        with ThreadPoolExecutor(10) as pool:
            floods = [pool.submit(flood, k) for k in range(10)]         # 10 pages: 2 over the address's bound
            time.sleep(1.0)
            flooded = victim_run(20)
            stop.set()
            for f in floods:
                f.result(timeout=60)
    print(f"\nvictim's live pictures alone: p50 {percentile(alone, 0.5) * 1000:.0f} ms, worst {alone[-1] * 1000:.0f} ms; "
          f"while one address floods: p50 {percentile(flooded, 0.5) * 1000:.0f} ms, worst {flooded[-1] * 1000:.0f} ms; "
          f"flood: {statuses.count(200)} made, {statuses.count(429)} refused (pages over the bound)")
    assert statuses.count(200) > 0 and statuses.count(429) > 0 and set(statuses) <= {200, 409, 429}
    assert flooded[-1] <= 2.0, flooded
    assert "Traceback" not in server.output()

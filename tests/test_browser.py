"""The page in Debian's chromium, driven by Playwright (no browser download): design, export, links."""
from __future__ import annotations

import io
import json
import socket
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from avatar_studio.serving import launch
from avatar_studio.ui import build_demo

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 30_000  # ms; the tiny model answers in well under a second

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")]


@pytest.fixture(scope="module")
def app_url(studio):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo(studio)
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/")
    demo.close()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser):
    context = browser.new_context(accept_downloads=True, viewport={"width": 1400, "height": 1600})
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    yield page
    context.close()


def image_src(page) -> str:
    page.wait_for_selector("#avatar img")
    return page.get_attribute("#avatar img", "src")


def test_dropdown_changes_the_image_and_export_downloads_a_png_of_the_chosen_size(page, app_url, studio):
    page.goto(app_url)
    before = image_src(page)
    label = "Bob" if "bob" in studio.attributes["hair"] else None
    page.click("#attr-hair input")
    page.click(f'li[role=option][aria-label="{label}"]')
    page.wait_for_function("s => document.querySelector('#avatar img')?.src !== s", arg=before)

    page.click('#size label:has-text("256")')
    page.click("#export")
    link = page.locator("#png-file a[download]")
    link.wait_for()
    with page.expect_download() as info:
        link.click()
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    png = Image.open(io.BytesIO(data))
    assert png.format == "PNG" and png.size == (256, 256) and png.mode == "RGBA"
    recipe = {"seed": 42, "spec": {"hair": "bob"}, "model": studio.model_id, "size": 256}
    assert data == studio.render_png(recipe)      # the page, the API and the studio agree


def test_a_link_opens_its_recipe_and_a_hostile_one_runs_no_script(page, app_url, studio):
    recipe = {"seed": 1234, "spec": {"outfit": "hoodie"}, "frame": "circle"}
    page.goto(f"{app_url}/?recipe={quote(json.dumps(recipe))}")
    page.wait_for_function("() => document.querySelector('#seed input')?.value === '1234'")
    assert page.input_value("#attr-outfit input") == "Hoodie"
    dialogs = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    hostile = {"seed": 1, "spec": {"hair": "<img src=x onerror=window.__xss=1>"}}
    page.goto(f"{app_url}/?recipe={quote(json.dumps(hostile))}")
    page.get_by_text("could not be opened").first.wait_for()
    assert page.evaluate("() => window.__xss") is None and not dialogs
    assert page.input_value("#seed input") == "42"             # the start design instead

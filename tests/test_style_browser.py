"""The style picker in Debian's chromium (Playwright), on the tiny two-style studio."""
from __future__ import annotations

import json
import time
from urllib.parse import quote

import pytest

from avatar_studio import form as F
from tests.test_browser import ARGS, CHROMIUM, TIMEOUT, served

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")]


@pytest.fixture(scope="module")
def styled_url(styled_studio):
    yield from served(styled_studio)


@pytest.fixture
def page():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport={"width": 1400, "height": 1600}).new_page()
        page.set_default_timeout(TIMEOUT)
        yield page
        browser.close()


def test_picking_a_style_keeps_the_person_and_shows_its_controls(page, styled_url):
    recipe = {"seed": 5, "spec": {"hair": "bob", "accessories": "round", "hair_color": "#123456"}}
    page.goto(f"{styled_url}/?recipe={quote(json.dumps(recipe))}")
    page.wait_for_function("() => document.querySelector('#seed input')?.value === '5'")
    page.wait_for_selector("#style-thumbnails img")               # the face in every style
    assert page.locator("#style-thumbnails img").count() == 2
    assert page.locator("#attr-outfit").is_visible()
    page.click('#style label:has-text("Big smile")')
    page.wait_for_function("() => { const r = new URLSearchParams(location.search).get('r'); return r && "
                           "document.querySelector('#style input:checked')?.value === 'big-smile'; }")
    page.wait_for_function("() => !document.querySelector('#attr-outfit') || "
                           "document.querySelector('#attr-outfit').offsetParent === null")
    shown = link_recipe(page, lambda r: r["spec"].get("style") == "big-smile")   # the page re-rendered
    assert shown["spec"]["hair_color"] == "#123456" and shown["spec"]["accessories"] == "glasses"
    assert shown["seed"] == 5 and "outfit" not in shown["spec"]
    assert not page.locator(".toast-body.error").count()
    # another language keeps the style's choices (re-shown in that language)
    page.click('#language label:has-text("中文")')
    page.wait_for_timeout(1500)
    page.click("#attr-hair input")
    page.click('li[role=option][aria-label="莫西干头"]')         # a big-smile hair, named in 中文
    shown = link_recipe(page, lambda r: r["spec"].get("hair") == "mohawk")
    assert shown["spec"]["style"] == "big-smile" and shown["spec"]["hair_color"] == "#123456"
    assert not page.locator(".toast-body.error").count()
    assert page.locator('#style label:has-text("大笑脸")').count() == 1          # the styles named in 中文 too
    page.wait_for_function("() => [...document.querySelectorAll('#style-thumbnails .caption-label')]"
                           ".map(c => c.textContent.trim()).join() === '经典卡通,大笑脸'")
    assert not page.locator("#steer-color").is_visible()          # big-smile: no hat & glasses colour to steer


def link_recipe(page, wanted, seconds: float = 30.0) -> dict:
    """The recipe of the address bar's short link, once ``wanted(recipe)`` holds."""
    deadline = time.monotonic() + seconds
    while True:
        code = page.evaluate("() => new URLSearchParams(location.search).get('r')")
        recipe = json.loads(F.from_share_code(code)) if code else None
        if recipe is not None and wanted(recipe):
            return recipe
        if time.monotonic() > deadline:
            raise AssertionError(f"the page's link never showed the wanted recipe; last: {recipe}")
        page.wait_for_timeout(200)

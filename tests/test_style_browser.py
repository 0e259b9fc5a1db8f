"""The style picker in Debian's chromium (Playwright), on the tiny two-style studio."""
from __future__ import annotations

import io
import json
import time
from urllib.parse import quote

import pytest
from PIL import Image

from avatar_studio import form as F
from avatar_studio.ui import STILL_MS, Designer
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



# each thumbnail's box, its picture's and its caption's, and the gallery's label and box (page pixels)
PICKER_BOXES_JS = """() => { const box = (e) => { const r = e.getBoundingClientRect();
    return {top: r.top, bottom: r.bottom, left: r.left, right: r.right}; };
  const g = document.querySelector('#style-thumbnails');
  return {gallery: box(g), label: box(g.querySelector('[data-testid=block-label]')),
          tiles: [...g.querySelectorAll('.thumbnail-item')].map((t) => ({tile: box(t), img: box(t.querySelector('img')),
                                                                         caption: box(t.querySelector('.caption-label'))}))}; }"""


@pytest.mark.parametrize("viewport", [{"width": 390, "height": 844}, {"width": 1440, "height": 900}])
def test_the_thumbnails_sit_in_one_row_whole_with_captions_under_them(styled_url, viewport):
    """On a phone and a desktop: every style's tile in one row, inside the gallery's box, none over 128 px
    wide; each caption under its picture (not over the face), and the gallery's label above the row."""
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        page = browser.new_context(viewport=viewport).new_page()
        page.set_default_timeout(TIMEOUT)
        page.goto(f"{styled_url}/?recipe={quote(json.dumps({'seed': 5, 'spec': {}}))}")
        page.wait_for_function("() => [...document.querySelectorAll('#style-thumbnails img')]"
                               ".filter((i) => i.complete && i.naturalWidth).length === 2")
        boxes = page.evaluate(PICKER_BOXES_JS)
        browser.close()
    gallery, label, tiles = boxes["gallery"], boxes["label"], boxes["tiles"]
    assert len(tiles) == 2 and len({round(t["tile"]["top"]) for t in tiles}) == 1, boxes     # one row
    for t in tiles:
        assert gallery["left"] <= t["tile"]["left"] and t["tile"]["right"] <= gallery["right"], boxes
        assert t["tile"]["bottom"] <= gallery["bottom"] and t["tile"]["top"] >= label["bottom"], boxes
        assert t["tile"]["right"] - t["tile"]["left"] <= 128.5, boxes
        assert t["caption"]["top"] >= t["img"]["bottom"] - 0.5, boxes                   # under the picture
    assert gallery["bottom"] - max(t["tile"]["bottom"] for t in tiles) < 24, boxes       # no empty box below

# the page's clock of each design shown (LINK_JS puts its ?r= link in the address bar) and of each time the
# thumbnails are asked for (a queue/join of the event on their hidden trigger, #style-refresh)
WATCH_THUMBNAILS_JS = """(() => { window.__designs = []; window.__thumbnails = [];
  const replace = history.replaceState.bind(history);
  history.replaceState = (...a) => { if (String(a[2]).includes('?r=')) window.__designs.push(performance.now());
    return replace(...a); };
  const fetched = window.fetch.bind(window);
  window.fetch = (url, init) => { try { if (String(url).includes('queue/join') && init && init.body) {
      const c = window.gradio_config, fn = JSON.parse(init.body).fn_index;
      const trigger = c.components.find((x) => x.props.elem_id === 'style-refresh').id;
      if (c.dependencies.find((d) => d.id === fn).targets.some((t) => t[0] === trigger))
        window.__thumbnails.push(performance.now()); } } catch (e) {}
    return fetched(url, init); }; })();"""


def test_the_thumbnails_follow_the_design_once_it_is_still_and_show_the_last_face(page, styled_url, styled_studio):
    """A run of changes (each as soon as the last one's picture is shown, as benchmarks.browser makes them)
    asks for the thumbnails only once the design has been still for STILL_MS: not once a change, and then
    they are the face the page ends on."""
    page.add_init_script(WATCH_THUMBNAILS_JS)
    page.goto(f"{styled_url}/?recipe={quote(json.dumps({'seed': 5, 'spec': {'hair': 'bob'}}))}")
    page.wait_for_selector("#style-thumbnails img")
    page.wait_for_timeout(STILL_MS + 500)
    start = page.evaluate("() => performance.now()")
    for seed in range(100, 106):
        before = page.get_attribute("#avatar img", "src")
        page.fill("#seed input", str(seed))
        page.press("#seed input", "Enter")
        page.wait_for_function("s => document.querySelector('#avatar img')?.src !== s", arg=before)
    last = link_recipe(page, lambda r: r["seed"] == 105)
    page.wait_for_function("t => window.__thumbnails.some((at) => at > t)", arg=start)
    page.wait_for_timeout(STILL_MS + 500)
    designs, asked = page.evaluate("t => [window.__designs, window.__thumbnails].map((l) => l.filter((at) => at > t))",
                                   start)
    for at in asked:                                              # each only after STILL_MS without a new design
        assert at - max(d for d in designs if d < at) >= STILL_MS - 20, (designs, asked)
    assert len(designs) >= 6 and 1 <= len(asked) < len(designs) and asked[-1] > designs[-1], (designs, asked)
    expected = Designer(styled_studio).style_thumbnails(json.dumps(last), "en")
    page.wait_for_function("n => document.querySelectorAll('#style-thumbnails img').length === n", arg=len(expected))
    shown = [page.request.get(page.evaluate("(i) => document.querySelectorAll('#style-thumbnails img')[i].src", i))
             for i in range(len(expected))]
    for answer, (picture, _) in zip(shown, expected):
        assert Image.open(io.BytesIO(answer.body())).convert("RGBA").tobytes() == picture.convert("RGBA").tobytes()


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

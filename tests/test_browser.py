"""The page in Debian's chromium, driven by Playwright (no browser download): design, export, links."""
from __future__ import annotations

import io
import json
import socket
import time
from pathlib import Path
from urllib.parse import quote

import pytest
from PIL import Image

from avatar_studio import form as F
from avatar_studio.fair import Limits
from avatar_studio.firstpaint import SHOWN_JS
from avatar_studio.pngrecipe import recipe_in
from avatar_studio.serving import launch
from avatar_studio.ui import build_demo
from tests.harness import inline_picture

CHROMIUM = Path("/usr/bin/chromium")
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--disable-sync", "--no-first-run"]
TIMEOUT = 30_000  # ms; the tiny model answers in well under a second

pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian chromium is not installed at /usr/bin/chromium")]


def served(studio):
    """The page of this studio on a free loopback port: yields its URL, closes it after."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo(studio)
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    yield url.rstrip("/")
    demo.close()


@pytest.fixture(scope="module")
def app_url(studio):
    yield from served(studio)


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
    """The avatar's address once the page's first render has run (it then puts ?r= in the address bar)."""
    page.wait_for_function("() => new URLSearchParams(location.search).get('r')")
    page.wait_for_selector("#avatar img")
    return page.get_attribute("#avatar img", "src")


def test_dropdown_changes_the_image_and_export_downloads_a_png_of_the_chosen_size(page, app_url, studio):
    page.goto(app_url)
    before = image_src(page)
    label = "Bob" if "bob" in studio.attributes["hair"] else None
    page.click("#attr-hair input")
    page.click(f'li[role=option][aria-label="{label}"]')
    page.wait_for_function("s => document.querySelector('#avatar img')?.src !== s", arg=before)

    shown = image_src(page)
    page.click("#export-options button")                        # the download options
    page.click('#size label:has-text("256")')
    page.wait_for_function("s => document.querySelector('#avatar img')?.src !== s", arg=shown)
    with page.expect_download() as info:
        page.click("#download")                                 # one click
    data = Path(info.value.path()).read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    png = Image.open(io.BytesIO(data))
    assert png.format == "PNG" and png.size == (256, 256) and png.mode == "RGBA"
    recipe = json.loads(recipe_in(data))                        # the PNG carries its recipe
    assert recipe["seed"] == 42 and recipe["spec"]["hair"] == "bob" and recipe["size"] == 256
    assert Image.open(io.BytesIO(studio.render_png(recipe))).tobytes() == png.tobytes()  # page and studio agree


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


DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}


@pytest.fixture(params=["desktop", "phone"])
def sized(request, browser):
    """A page at desktop (1440x900) or phone (390x844) size."""
    context = browser.new_context(accept_downloads=True, viewport=DESKTOP if request.param == "desktop" else PHONE,
                                  has_touch=request.param == "phone")
    page = context.new_page()
    page.set_default_timeout(TIMEOUT)
    yield page
    context.close()


def new_image(page, before: str) -> str:
    page.wait_for_function("s => document.querySelector('#avatar img')?.src !== s", arg=before)
    return image_src(page)


def shown_recipe(page) -> dict:
    """The recipe the address bar's short link holds."""
    page.wait_for_function("() => new URLSearchParams(location.search).get('r')")
    return json.loads(F.from_share_code(page.evaluate("() => new URLSearchParams(location.search).get('r')")))


def in_view(page, selector: str) -> bool:
    box = page.locator(selector).bounding_box()
    vp = page.viewport_size
    return box is not None and box["y"] >= -1 and box["y"] + min(box["height"], 120) <= vp["height"]


def test_a_hex_code_typed_into_a_colour_picker_renders_at_once(page, app_url):
    page.goto(app_url)
    before = image_src(page)
    page.click("#color-hair_color button.dialog-button")
    field = page.locator("#color-hair_color input[type=text]")
    field.fill("#00ff00")
    field.press("Enter")
    page.mouse.click(5, 5)                                      # the picker closes
    new_image(page, before)
    page.wait_for_function("() => new URLSearchParams(location.search).get('r') && true")
    page.wait_for_function("() => !document.querySelector('#any-hair_color input').checked")
    for _ in range(50):
        if shown_recipe(page)["spec"].get("hair_color") == "#00ff00":
            break
        page.wait_for_timeout(100)
    assert shown_recipe(page)["spec"]["hair_color"] == "#00ff00"


def test_a_bad_recipe_is_one_message_and_blocks_nothing(page, app_url):
    page.goto(app_url)
    image_src(page)
    page.get_by_role("tab", name="Share").click()
    page.fill("#paste textarea", "{oops")
    page.click("#open-recipe")
    page.get_by_text("This recipe could not be opened").first.wait_for()
    page.wait_for_timeout(300)
    assert page.locator("[data-testid=status-tracker].error").count() == 0      # no red badge on any control
    page.click("#attr-hair input")                              # the form still works
    page.locator("li[role=option]").first.wait_for()


def test_a_change_whose_result_stream_opens_late_says_so_and_blocks_nothing(page, app_url):
    """On a very busy machine the page may open its result stream after the server's grace and the
    event is dropped: the page says so (never waits silently), and the next change renders."""
    page.goto(app_url)
    before = image_src(page)
    page.wait_for_timeout(1000)                                 # the start-up events' stream has closed

    def late(route):                                            # the stream opens past the grace
        time.sleep(Limits().grace + 1.5)
        route.continue_()
    page.route("**/gradio_api/queue/data*", late)
    page.click("#dice")
    page.get_by_text("This request was not done").first.wait_for()
    page.unroute("**/gradio_api/queue/data*")
    page.click("#dice")
    new_image(page, before)


def test_one_click_download_saves_the_chosen_size_frame_and_background(sized, app_url):
    page = sized
    page.goto(app_url)
    before = image_src(page)
    page.click("#export-options button")
    page.click('#size label:has-text("256")')
    before = new_image(page, before)
    page.click('#frame label:has-text("Circle")')
    new_image(page, before)
    with page.expect_download() as info:
        page.click("#download")
    assert info.value.suggested_filename.endswith("-256.png")
    data = Path(info.value.path()).read_bytes()
    png = Image.open(io.BytesIO(data))
    assert png.size == (256, 256) and png.getpixel((0, 0))[3] == 0           # the circle frame
    assert json.loads(recipe_in(data))["frame"] == "circle"


def test_the_avatar_stays_in_view_while_editing(sized, app_url):
    page = sized
    page.goto(app_url)
    image_src(page)
    assert in_view(page, "#avatar img")                         # on a phone: on top, not 1,870 px down
    page.locator("#creativity").scroll_into_view_if_needed()   # deep in the controls: the last one when the
    page.wait_for_timeout(200)                                  # hat & glasses sliders are hidden
    assert in_view(page, "#avatar img")
    page.locator("#swatches-skin_color").scroll_into_view_if_needed()
    page.wait_for_timeout(200)
    assert in_view(page, "#avatar img")
    assert page.locator("#avatar img").bounding_box()["width"] >= min(300, page.viewport_size["width"] * 0.45)


def test_reload_keeps_the_design_and_language_and_the_link_is_short(page, app_url):
    page.goto(app_url)
    before = image_src(page)
    page.click("#attr-outfit input")
    page.click('li[role=option][aria-label="Hoodie"]')
    new_image(page, before)
    page.wait_for_function("() => location.search.includes('r=')")
    assert len(page.url) < 250 and shown_recipe(page)["spec"]["outfit"] == "hoodie"
    page.click('#language label:has-text("中文")')
    page.get_by_text("你的头像").first.wait_for()
    page.goto(app_url)                                          # a plain reload of the bare address
    page.wait_for_function("() => document.querySelector('#attr-outfit input')?.value === '连帽衫'")


def test_a_png_made_here_dropped_back_restores_its_design(page, app_url, tmp_path):
    page.goto(f"{app_url}/?recipe={quote(json.dumps({'seed': 4321, 'spec': {'outfit': 'hoodie'}, 'size': 128}))}")
    page.wait_for_function("() => document.querySelector('#seed input')?.value === '4321'")
    image_src(page)
    page.wait_for_function("() => location.search.includes('r=')")
    with page.expect_download() as info:
        page.click("#download")
    made = tmp_path / "mine.png"
    made.write_bytes(Path(info.value.path()).read_bytes())
    page.fill("#seed input", "7")
    page.press("#seed input", "Enter")
    page.wait_for_function("() => document.querySelector('#seed input')?.value === '7'")
    page.get_by_role("tab", name="Share").click()
    with page.expect_file_chooser() as chooser:
        page.click("#upload")
    chooser.value.set_files(str(made))
    page.wait_for_function("() => document.querySelector('#seed input')?.value === '4321'")
    assert page.input_value("#attr-outfit input") == "Hoodie"


def test_morph_with_nothing_saved_says_what_to_do(page, app_url):
    page.goto(app_url)
    image_src(page)
    page.get_by_role("tab", name="Morph").click()
    page.get_by_role("button", name="Make morph").click()
    page.get_by_text("Save a design as A").first.wait_for()


def test_the_avatar_has_alt_text_in_the_pages_language(page, app_url):
    page.goto(app_url)
    image_src(page)
    page.wait_for_function("() => document.querySelector('#avatar img')?.alt === 'Your avatar'")
    page.click('#language label:has-text("中文")')
    page.wait_for_function("() => document.querySelector('#avatar img')?.alt === '你的头像'")


# ---- issue 14, second pass: swatches, keyboard, Custom, errors in 中文, picture grids, breed -------------
def open_tab(page, name: str) -> None:
    """A tab by its name, in one tap (on a phone too: no "More tabs" menu)."""
    page.get_by_role("tab", name=name).click()


def to_chinese(page):
    page.click('#language label:has-text("中文")')
    page.get_by_text("你的头像").first.wait_for()


def test_swatches_are_named_in_the_pages_language_and_outfit_colour_has_them(page, app_url):
    page.goto(app_url)
    before = image_src(page)
    names = "(sel) => [...document.querySelectorAll(sel + ' .swatch')].map(b => b.getAttribute('aria-label'))"
    hair = page.evaluate(names, "#swatches-hair_color")
    assert hair and not any(n.startswith("#") for n in hair) and "Auburn" in hair     # not "#a55728"
    outfit = page.evaluate(names, "#swatches-outfit_color")
    assert len(outfit) >= 8 and not any(n.startswith("#") for n in outfit)
    page.click('#swatches-outfit_color .swatch[aria-label="Navy"]')                  # a swatch sets the colour
    new_image(page, before)
    for _ in range(50):
        if shown_recipe(page)["spec"].get("outfit_color") == "#25557c":
            break
        page.wait_for_timeout(100)
    assert shown_recipe(page)["spec"]["outfit_color"] == "#25557c"
    to_chinese(page)
    page.wait_for_function(f"() => ({names})('#swatches-hair_color').includes('赤褐色')")


def test_tab_from_a_dropdown_goes_to_the_next_control_and_typing_filters(page, app_url, studio):
    page.goto(app_url)
    before = image_src(page)
    page.click("#attr-hair input")
    page.keyboard.press("Tab")
    page.wait_for_timeout(200)
    assert page.evaluate("() => document.activeElement.closest('#attr-outfit') !== null")   # not the page body
    page.keyboard.press("Shift+Tab")
    page.wait_for_timeout(200)
    assert page.evaluate("() => document.activeElement.closest('#attr-hair') !== null")
    page.click("#attr-hair input")
    page.wait_for_function("() => { const i = document.querySelector('#attr-hair input');"    # the page selects the
                           " return i.selectionStart === 0 && i.selectionEnd === i.value.length; }")  # text a tick later
    page.keyboard.type("hij")                                     # replaces the shown value: no "Anyhij"
    assert page.input_value("#attr-hair input") == "hij"
    page.keyboard.press("Enter")
    page.wait_for_function("() => document.querySelector('#attr-hair input').value === 'Hijab'")
    new_image(page, before)
    for _ in range(50):
        if shown_recipe(page)["spec"].get("hair") == "hijab":
            break
        page.wait_for_timeout(100)
    assert shown_recipe(page)["spec"]["hair"] == "hijab"


def pick(page, attribute: str, label: str) -> None:
    page.click(f"#attr-{attribute} input")
    page.click(f'li[role=option][aria-label="{label}"]')


def test_the_hat_and_glasses_colour_picker_shows_with_a_hat_and_sets_the_sliders(page, app_url):
    page.goto(app_url)
    image_src(page)
    pick(page, "hair", "Bob")                                     # no hat, and the first face wears no glasses
    page.locator("#steer-color").wait_for(state="hidden")
    pick(page, "hair", "Hijab")
    page.locator("#steer-color").wait_for(state="visible")
    before = image_src(page)
    page.click("#steer-color button.dialog-button")
    field = page.locator("#steer-color input[type=text]")
    field.fill("#3f6fd8")
    field.press("Enter")
    page.mouse.click(5, 5)
    new_image(page, before)
    for _ in range(50):
        if shown_recipe(page).get("sliders"):
            break
        page.wait_for_timeout(100)
    assert shown_recipe(page)["sliders"]                        # the picked colour is slider values in the recipe


def test_the_sliders_show_with_the_hat_and_glasses_picker_only(sized, app_url, studio):
    """Issue 14: the slider directions colour hats and glasses; on a face with neither they are hidden too."""
    page = sized
    page.goto(app_url)
    image_src(page)
    shown = ("() => [...document.querySelectorAll('#controls-col input[type=range]')]"      # every slider but creativity
             ".filter(e => !e.closest('#creativity') && e.getClientRects().length).length")
    pick(page, "hair", "Bob")                                     # no hat, and the first face wears no glasses
    page.locator("#steer-color").wait_for(state="hidden")
    page.wait_for_function(f"() => ({shown})() === 0")
    pick(page, "hair", "Hijab")
    page.locator("#steer-color").wait_for(state="visible")
    page.wait_for_function(f"n => ({shown})() === n", arg=len(studio.sliders))
    to_chinese(page)
    page.get_by_text("帽子颜色").first.wait_for()                  # named by what they change, in 中文 too


def language_options_fit(page) -> None:
    """Both options of the language choice wholly inside its box and the screen (no 中文 cut off)."""
    cut = page.evaluate("""() => { const box = document.querySelector('#language');
        const clip = box.parentElement.getBoundingClientRect(), own = box.getBoundingClientRect();
        return [...box.querySelectorAll('label')].map(l => [l.textContent.trim(), l.getBoundingClientRect()])
            .filter(([_, r]) => r.left < Math.max(clip.left, own.left, 0) - 0.5
                || r.right > Math.min(clip.right, own.right, window.innerWidth) + 0.5)
            .map(([t, r]) => [t, r.left, r.right, clip.left, clip.right]); }""")
    assert not cut, cut


def test_the_avatars_buttons_are_one_row_of_one_height(sized, app_url):
    """Randomise all / Reset to any / Undo / Redo: on a phone the first two wrap to two lines; all four keep one height."""
    page = sized
    page.goto(app_url)
    image_src(page)
    for lang in ("en", "zh"):
        if lang == "zh":
            to_chinese(page)
            page.get_by_role("button", name="撤销").wait_for()
        boxes = [b.bounding_box() for b in page.locator("#avatar-buttons button").all()]
        assert len(boxes) == 4 and len({round(b["height"]) for b in boxes}) == 1 and len({round(b["y"]) for b in boxes}) == 1, boxes
        assert all(b["x"] >= 0 and b["x"] + b["width"] <= page.viewport_size["width"] for b in boxes), boxes


def test_the_language_choice_shows_both_options_whole(sized, app_url):
    page = sized
    page.goto(app_url)
    image_src(page)
    language_options_fit(page)
    to_chinese(page)
    language_options_fit(page)
    box = page.locator("#language").bounding_box()
    assert box["height"] <= 110, box                              # one compact row, not half a phone screen


def test_a_live_error_is_said_in_chinese_under_a_chinese_title(page, app_url):
    page.goto(app_url)
    image_src(page)
    to_chinese(page)
    page.fill("#seed input", "-5")                                # out of range: the live step refuses it
    page.press("#seed input", "Enter")
    toast = page.locator("[data-testid=toast-body]").filter(has_text="种子").first
    toast.wait_for()
    text = toast.text_content()
    assert "出错了" in text and "Error" not in text and "must be" not in text, text


def test_a_bad_link_is_explained_in_the_language_kept_in_this_browser(page, app_url):
    page.goto(app_url)
    image_src(page)
    to_chinese(page)                                              # kept in this browser's storage
    page.goto(f"{app_url}/?recipe={quote(json.dumps({'seed': 1, 'spec': {'hair': 'bobb'}}))}")
    toast = page.locator("[data-testid=toast-body]").filter(has_text="无法打开这个配方").first
    toast.wait_for()
    assert "发型不能是 'bobb'" in toast.text_content() and "注意" in toast.text_content()


TOOL_TABS = {"en": ["Variations", "Every choice", "Share", "Morph & breed"],
             "zh": ["变体", "逐一试试", "分享", "变形与繁育"]}


def test_every_tool_tab_is_one_tap_away(sized, app_url):
    """On a phone too: no tab behind Gradio's "More tabs" menu, in either language."""
    page = sized
    page.goto(app_url)
    image_src(page)
    for lang, names in TOOL_TABS.items():
        if lang == "zh":
            to_chinese(page)
            page.get_by_role("tab", name=names[0]).wait_for()
        assert not page.locator("button[aria-label='More tabs']").is_visible()
        for name in names:
            tab = page.get_by_role("tab", name=name)
            assert tab.is_visible(), (lang, name)
            box = tab.bounding_box()
            assert box["x"] >= 0 and box["x"] + box["width"] <= page.viewport_size["width"], (lang, name, box)
            tab.click()
            page.wait_for_function("n => [...document.querySelectorAll('[role=tab]')].some("
                                   "t => t.textContent.trim() === n && t.getAttribute('aria-selected') === 'true')", arg=name)


def test_custom_expression_opens_eyes_eyebrows_and_mouth(page, app_url):
    page.goto(app_url)
    image_src(page)
    assert not page.locator("#attr-eyes").is_visible()
    page.click("#expression input")
    page.click('li[role=option][aria-label^="Custom"]')
    page.locator("#attr-eyes").wait_for(state="visible")


def test_a_bad_recipe_is_explained_in_chinese(page, app_url):
    page.goto(app_url)
    image_src(page)
    to_chinese(page)
    page.get_by_role("tab", name="分享").click()
    page.fill("#paste textarea", json.dumps({"seed": 1, "spec": {"hair": "bobb"}}))
    page.click("#open-recipe")
    toast = page.locator("[data-testid=toast-body]").filter(has_text="发型不能是 'bobb'；可选：").first
    toast.wait_for()
    assert "注意" in toast.text_content() and "Warning" not in toast.text_content()     # its title too


def captions_fit(page, gallery: str, min_px: int) -> None:
    """Every picture of a gallery at least min_px wide, its caption under it and not cut off."""
    page.wait_for_function(f"() => document.querySelectorAll('{gallery} .caption-label').length > 1")
    page.wait_for_timeout(300)
    items = page.evaluate(f"""() => [...document.querySelectorAll('{gallery} .thumbnail-item')].map(t => {{
        const i = t.querySelector('img').getBoundingClientRect(), c = t.querySelector('.caption-label');
        const r = c.getBoundingClientRect();
        return {{w: i.width, below: r.top >= i.bottom - 1, whole: c.scrollWidth <= c.clientWidth + 1,
                 text: c.textContent}}; }})""")
    assert items and all(it["w"] >= min_px for it in items), items[:3]
    assert all(it["below"] and it["whole"] for it in items), [it for it in items if not (it["below"] and it["whole"])]


def test_every_choice_thumbnails_are_readable(sized, app_url):
    page = sized
    page.goto(app_url)
    image_src(page)
    open_tab(page, "Every choice")
    page.click("#preview-attribute input")
    page.click('li[role=option][aria-label="Eyebrows"]')
    page.click("#show-all")
    captions_fit(page, "#preview", 140)
    assert any(it == "Angry, natural" for it in page.locator("#preview .caption-label").all_text_contents())


def test_breed_two_saved_designs_into_eight_children_and_adopt_one(sized, app_url):
    page = sized
    page.goto(app_url)
    before = image_src(page)
    open_tab(page, "Morph")
    page.click("#make-children")
    page.get_by_text("Save a design as A and one as B first").first.wait_for()   # nothing saved yet
    page.get_by_role("button", name="Save current as A").click()
    page.fill("#seed input", "77")
    page.press("#seed input", "Enter")
    new_image(page, before)
    page.get_by_role("button", name="Save current as B").click()
    page.wait_for_function("() => [...document.querySelectorAll('textarea')].some(t => t.value.includes('\"seed\": 77'))")
    page.locator("#from-a label", has_text="Hair").first.click()
    page.locator("#from-b label", has_text="Outfit").first.click()
    page.click("#make-children")
    page.wait_for_function("() => document.querySelectorAll('#children img').length === 8")
    captions_fit(page, "#children", 140)
    seed = page.locator("#children .caption-label").nth(3).text_content().split()[-1]
    page.locator("#children .thumbnail-item").nth(3).click()
    page.wait_for_function("s => document.querySelector('#seed input')?.value === s", arg=seed)
# ---- 7: an avatar at once, before Gradio's front end has started; handed over without a gap ------
WATCH_JS = """(() => { const shown = SHOWN; Object.assign(window, {__seen: false, __gaps: 0, __placeholder: false,
  __handed_over: false}); const tick = () => {
    const first = document.querySelector('#first-avatar img'), live = document.querySelector('#avatar img');
    const a = shown(first), b = shown(live);
    if (a) window.__placeholder = true;
    if (a || b) window.__seen = true; else if (window.__seen) window.__gaps += 1;
    if (!first && b) { window.__handed_over = true; return; }
    requestAnimationFrame(tick); };
  requestAnimationFrame(tick); })();""".replace("SHOWN", SHOWN_JS)


def test_the_first_avatar_is_in_the_page_before_gradios_front_end_starts(sized, app_url):
    page = sized
    page.route("**/*.js", lambda route: route.abort())          # Gradio's front end never starts
    page.goto(app_url)
    page.wait_for_function(f"() => ({SHOWN_JS})(document.querySelector('#first-avatar img'))")
    assert page.get_attribute("#first-avatar img", "alt") == "Your avatar"
    assert in_view(page, "#first-avatar img")
    assert page.locator("#first-avatar img").bounding_box()["width"] >= min(200, page.viewport_size["width"] * 0.45)


def test_the_live_avatar_takes_over_without_a_gap_and_a_link_shows_no_other_face(sized, app_url):
    page = sized
    page.add_init_script(WATCH_JS)
    page.goto(app_url)
    page.wait_for_function("() => window.__handed_over")
    assert page.evaluate("() => [window.__placeholder, window.__gaps]") == [True, 0]   # no blank frame
    assert page.locator("#first-avatar").count() == 0
    page.goto(f"{app_url}/?recipe={quote(json.dumps({'seed': 1234, 'spec': {}}))}")    # another design
    page.wait_for_function("() => window.__handed_over")
    assert page.evaluate("() => window.__placeholder") is False


def test_a_change_brings_its_picture_inside_the_reply_with_the_live_pixels(sized, app_url, studio):
    """The live picture comes in the event's own reply (a data: URI): no file is written for it and the
    browser makes no second request; the pixels are render_live's (the export stays a file, on Download)."""
    page = sized
    page.goto(app_url)
    before = image_src(page)
    recipe = {**shown_recipe(page), "seed": 4321}
    files = []
    page.on("request", lambda r: files.append(r.url) if "gradio_api/file=" in r.url else None)
    seed = page.locator("#seed input")
    seed.fill("4321")
    seed.press("Enter")
    src = new_image(page, before)
    assert src.startswith("data:image/webp;base64,") and files == []
    assert inline_picture(src).tobytes() == studio.render_live(recipe).tobytes()
    assert page.evaluate(f"() => ({SHOWN_JS})(document.querySelector('#avatar img'))")


# ---- the fast path (fastpath.py): the picture first, the queued step after ----------------------------
FRAMES_JS = """(() => { window.__frames = []; const tick = () => {
  const i = document.querySelector('#avatar img'); if (i) window.__frames.push(i.getAttribute('src'));
  requestAnimationFrame(tick); }; requestAnimationFrame(tick); })();"""


class HeldJoins:
    """The page's queue/join requests, held back (not sent on) until ``release``."""

    def __init__(self, page):
        self.routes, self.holding = [], True
        page.route("**/gradio_api/queue/join*", self._join)

    def _join(self, route) -> None:
        if self.holding:
            self.routes.append(route)
        else:
            route.continue_()

    def release(self) -> None:
        self.holding = False
        for route in self.routes:
            route.continue_()


def change_seed(page, seed: int) -> None:
    field = page.locator("#seed input")
    field.fill(str(seed))
    field.press("Enter")


def wait_for_seed(page, seed: int) -> None:
    """Until the queued step's recipe (the address bar's short link) has this seed."""
    for _ in range(100):
        if shown_recipe(page)["seed"] == seed:
            return
        page.wait_for_timeout(100)
    raise AssertionError(f"the link never showed seed {seed}: {shown_recipe(page)}")


def test_a_change_shows_its_picture_through_the_fast_path_before_the_queued_step(sized, app_url, studio):
    """With the queued step held back (its queue/join not let through), a change still shows its new
    picture, render_live's pixels, from the page's own server; let through, the step brings the same
    picture (the same data: URI) and the recipe."""
    page = sized
    page.goto(app_url)
    before = image_src(page)
    page.wait_for_timeout(1000)                                 # the start-up events are done
    recipe = {**shown_recipe(page), "seed": 4321}
    asked = []
    page.on("request", lambda r: asked.append(r.url))
    held = HeldJoins(page)
    change_seed(page, 4321)
    src = new_image(page, before)
    assert len(held.routes) == 1 and inline_picture(src).tobytes() == studio.render_live(recipe).tobytes()
    assert any("/avatar-studio/live" in url for url in asked) and all(url.startswith(app_url) for url in asked)
    held.release()
    wait_for_seed(page, 4321)
    assert page.get_attribute("#avatar img", "src") == src      # the step's picture: byte for byte the same


@pytest.mark.parametrize("refusal", ["abort", "busy"])
def test_with_the_fast_path_failing_or_refused_a_change_still_shows_its_picture(sized, app_url, studio, refusal):
    page = sized
    answers = {"abort": lambda route: route.abort(),
               "busy": lambda route: route.fulfill(status=503, content_type="application/json",
                                                   body='{"detail": "too many live pictures are waiting"}')}
    page.route("**/avatar-studio/live*", answers[refusal])
    page.goto(app_url)
    before = image_src(page)
    page.wait_for_timeout(1000)
    recipe = {**shown_recipe(page), "seed": 2468}
    change_seed(page, 2468)
    src = new_image(page, before)                               # the queued step's picture
    wait_for_seed(page, 2468)
    assert inline_picture(src).tobytes() == studio.render_live(recipe).tobytes()
    assert page.get_by_text("Error").count() == 0               # nothing said: the page just waited for the step


def test_an_older_changes_picture_never_covers_a_newer_one(page, app_url, studio):
    """Two changes: both fast pictures shown while the first change's queued step is held; let through,
    that step's (older) picture must not be shown over the newer one, and the page ends on the newer."""
    page.add_init_script(FRAMES_JS)
    page.goto(app_url)
    before = image_src(page)
    page.wait_for_timeout(1000)
    recipe = shown_recipe(page)
    held = HeldJoins(page)
    change_seed(page, 1001)
    first = new_image(page, before)
    change_seed(page, 1002)
    second = new_image(page, first)
    assert inline_picture(second).tobytes() == studio.render_live({**recipe, "seed": 1002}).tobytes()
    held.release()
    wait_for_seed(page, 1002)
    page.wait_for_timeout(300)
    frames = page.evaluate("() => window.__frames")
    after = frames[frames.index(second):]
    assert first not in after and after[-1] == second, [f[-12:] for f in dict.fromkeys(frames)]

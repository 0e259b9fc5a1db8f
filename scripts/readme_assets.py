"""README pictures from shipped weights: a sheet of avatars and screenshots of the app.

Example:
    python -m scripts.readme_assets --weights weights/avatar-studio --out assets

The sheet is 4 x 8 avatars with every attribute left "any" (seeds 0..31). With several styles
loaded, styles.png shows the same 8 people in every style (a row each). The screenshots
(``SHOTS``) launch the app on 127.0.0.1 and photograph it in Debian's chromium (Playwright) at
1440x900 and 390x844, in English and 中文 (install fonts-noto-cjk first, or 中文 shows as boxes).
"""
from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image, ImageDraw

from avatar_studio import AvatarStudio
from avatar_studio.serving import launch
from avatar_studio.ui import build_demo

CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def sheet(studio: AvatarStudio, path: Path, rows: int = 4, cols: int = 8, size: int = 128) -> None:
    images = studio.design_batch([{}] * (rows * cols), list(range(rows * cols)))
    out = Image.new("RGBA", (cols * size, rows * size), (246, 243, 238, 255))
    for i, im in enumerate(images):
        out.alpha_composite(im.resize((size, size), Image.LANCZOS), ((i % cols) * size, (i // cols) * size))
    out.save(path)


def style_sheet(studio: AvatarStudio, path: Path, people: int = 8, size: int = 128, label: int = 112) -> None:
    """The same ``people`` in every loaded style, a row per style (its name on the left): person i is
    seed i with every attribute left "any" in the first style, carried to the others by ``restyle``
    (the seed stays, so what a style cannot carry is the seed's choice there)."""
    persons = [studio.resolve({}, seed) for seed in range(people)]
    out = Image.new("RGBA", (label + people * size, len(studio.styles) * size), (246, 243, 238, 255))
    draw = ImageDraw.Draw(out)
    for row, style in enumerate(studio.styles):
        draw.text((8, row * size + size // 2), style, fill=(60, 60, 60, 255), anchor="lm")
        specs = [studio.restyle(p, style) for p in persons]
        for col, im in enumerate(studio.design_batch(specs, list(range(people)))):
            out.alpha_composite(im.resize((size, size), Image.LANCZOS), (label + col * size, row * size))
    out.save(path)


def every_choice(page) -> None:
    """The "Every choice" tab (中文) with its pictures, scrolled to sit under the avatar pinned on top."""
    page.get_by_role("tab", name="逐一试试").click()
    page.click("#show-all")
    page.wait_for_function("() => document.querySelectorAll('#preview .caption-label').length > 4")
    page.wait_for_timeout(1500)
    page.evaluate("() => window.scrollBy(0, document.querySelector('#tools').getBoundingClientRect().top"
                  " - document.querySelector('#avatar-col').getBoundingClientRect().bottom - 8)")
    page.wait_for_timeout(800)


DESKTOP, PHONE = {"width": 1440, "height": 900}, {"width": 390, "height": 844}
# file -> (viewport, language, what to do before the picture); 中文 needs CJK fonts (fonts-noto-cjk)
SHOTS = {"screenshot.png": (DESKTOP, "en", None),
         "screenshot-phone.png": (PHONE, "zh", None),
         "screenshot-phone-tools.png": (PHONE, "zh", every_choice)}


def screenshot(studio: AvatarStudio, folder: Path, shots: dict = SHOTS) -> list[Path]:
    """The page photographed at each (viewport, language, action) of ``shots``, after its first render."""
    from playwright.sync_api import sync_playwright
    demo = build_demo(studio)
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=None, prevent_thread_lock=True, quiet=True)
    written = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            for name, (viewport, lang, action) in shots.items():
                context = browser.new_context(viewport=viewport, has_touch=viewport["width"] < 768)
                page = context.new_page()
                page.set_default_timeout(60_000)
                page.goto(url)
                page.wait_for_function("() => new URLSearchParams(location.search).get('r')")
                if lang == "zh":
                    page.click('#language label:has-text("中文")')
                    page.get_by_text("你的头像").first.wait_for()
                page.evaluate("() => document.fonts.ready")
                page.wait_for_timeout(1500)
                if action:
                    action(page)
                page.screenshot(path=str(folder / name), full_page=False)
                written.append(folder / name)
                context.close()
            browser.close()
    finally:
        demo.close()
    return written


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m scripts.readme_assets", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("assets"))
    parser.add_argument("--no-screenshot", action="store_true")
    args = parser.parse_args(argv)
    studio = AvatarStudio.from_pretrained(args.weights)
    sheet(studio, args.out / "sheet.png")
    if len(studio.styles) > 1:
        style_sheet(studio, args.out / "styles.png")
    if not args.no_screenshot:
        shots = screenshot(studio, args.out)
    print(f"wrote {args.out / 'sheet.png'}" + (f", {args.out / 'styles.png'}" if len(studio.styles) > 1 else "") + ("" if args.no_screenshot else "".join(f", {p}" for p in shots)))


if __name__ == "__main__":
    main()

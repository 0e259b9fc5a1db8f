"""Benchmark: the designer page as a visitor feels it, in Debian's chromium (Playwright, issue 14).

Example:
    python -m benchmarks.browser --weights weights/avatar-studio --out runs/browser.json

Serves the page in this process on 127.0.0.1 (the real model, tuned CPU), then, at 1440x900:

  first    navigation -> an avatar shown (loaded, visible, under no progress overlay): the page's
           own placeholder or the live image, in --visits fresh browser contexts (bar: each <= 1.0 s);
           "live" is when the live image (Gradio's component) is shown, for information
  change   a control changed (the seed typed: the clock starts before typing) -> the new image
           shown, --changes times, one after another (bars: median <= 120 ms, worst <= 250 ms);
           "change_in_page" is the same changes on the page's own clock: the seed's first input
           event -> the first animation frame with the new picture loaded (no Playwright round
           trip inside it: typing and Enter are answered only when the page's main thread is free)
  download one click on Download at 512 px -> the file saved, --downloads times (bar: <= 0.5 s)

Prints one JSON object (--out writes it too). Timings are wall-clock on whatever else the machine
is doing: say how busy it was when you quote them.
"""
from __future__ import annotations

import argparse
import os
import socket
import statistics
import time
from pathlib import Path

from avatar_studio.firstpaint import SHOWN_JS as SHOWN
from benchmarks import report

os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking"]
SHOWN_JS = ("(before) => { const i = document.querySelector('#avatar img'); "
            "return !!i && i.src !== before && i.complete && i.naturalWidth > 0; }")
ANY_SHOWN_JS = f"() => [...document.querySelectorAll('#first-avatar img, #avatar img')].some({SHOWN})"
LIVE_SHOWN_JS = f"() => ({SHOWN})(document.querySelector('#avatar img'))"
# the page's own clock of a change: the seed's first input event -> the first frame with a new, loaded picture
IN_PAGE_JS = f"""() => {{ const c = window.__change = {{start: null, before: null, out: []}};
  document.querySelector('#seed input').addEventListener('input', () => {{ if (c.start === null) c.start = performance.now(); }}, true);
  const tick = () => {{ const i = document.querySelector('#avatar img');
    if (c.start !== null && i && i.src !== c.before && ({SHOWN})(i)) {{ c.out.push(performance.now() - c.start); c.start = null; }}
    requestAnimationFrame(tick); }};
  requestAnimationFrame(tick); }}"""


def _summary(ms: list[float]) -> dict:
    return {"n": len(ms), "median_ms": round(statistics.median(ms), 1), "worst_ms": round(max(ms), 1),
            "all_ms": [round(m, 1) for m in ms]}


def _shown(page, before: str | None = "") -> str:
    page.wait_for_function(SHOWN_JS, arg=before, polling="raf")
    return page.get_attribute("#avatar img", "src")


def measure(url: str, visits: int, changes: int, downloads: int) -> dict:
    from playwright.sync_api import sync_playwright
    out = {}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        first, live = [], []
        for _ in range(visits):
            context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
            page = context.new_page()
            page.set_default_timeout(60_000)
            t = time.perf_counter()
            page.goto(url, wait_until="commit")
            page.wait_for_function(ANY_SHOWN_JS, polling="raf")
            first.append((time.perf_counter() - t) * 1000)
            page.wait_for_function(LIVE_SHOWN_JS, polling="raf")
            live.append((time.perf_counter() - t) * 1000)
            context.close()
        out["first_avatar"], out["live_avatar"] = _summary(first), _summary(live)

        context = browser.new_context(viewport={"width": 1440, "height": 900}, accept_downloads=True)
        page = context.new_page()
        page.set_default_timeout(60_000)
        page.goto(url)
        src = _shown(page)
        page.wait_for_timeout(1000)
        src = page.get_attribute("#avatar img", "src")
        seed = page.locator("#seed input")
        page.evaluate(IN_PAGE_JS)
        times = []
        for i in range(changes):
            page.evaluate("(before) => { window.__change.before = before; }", src)
            t = time.perf_counter()
            seed.fill(str(1000 + i))
            seed.press("Enter")
            src = _shown(page, src)
            times.append((time.perf_counter() - t) * 1000)
            page.wait_for_function(f"() => window.__change.out.length > {i}", polling="raf")
        out["change"] = _summary(times)
        out["change_in_page"] = _summary(page.evaluate("() => window.__change.out"))

        page.click("#export-options button")
        page.click('#size label:has-text("512")')
        page.wait_for_timeout(1500)
        saved = []
        for _ in range(downloads):
            t = time.perf_counter()
            with page.expect_download() as info:
                page.click("#download")
            Path(info.value.path()).read_bytes()
            saved.append((time.perf_counter() - t) * 1000)
        out["download_512"] = _summary(saved)
        context.close()
        browser.close()
    return out


def main(argv: list[str] | None = None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--weights", default=None, help="weights folder (default: shipped)")
    ap.add_argument("--visits", type=int, default=5)
    ap.add_argument("--changes", type=int, default=30)
    ap.add_argument("--downloads", type=int, default=5)
    ap.add_argument("--out", type=Path, default=None)
    args = ap.parse_args(argv)

    import avatar_studio
    if hasattr(avatar_studio, "tune_cpu"):
        avatar_studio.tune_cpu()
    from avatar_studio import AvatarStudio
    from avatar_studio.serving import launch
    from avatar_studio.ui import build_demo

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    demo = build_demo(AvatarStudio.from_pretrained(args.weights, device="cpu"))
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    try:
        result = measure(url.rstrip("/") + "/", args.visits, args.changes, args.downloads)
    finally:
        demo.close()
    result["load_1min"] = os.getloadavg()[0]
    result["bars"] = {"first_avatar_ms": 1000, "change_median_ms": 120, "change_worst_ms": 250, "download_512_ms": 500}
    return report(result, args.out)


if __name__ == "__main__":
    main()

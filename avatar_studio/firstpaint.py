"""The first avatar in the page's own HTML: visible before Gradio's front end has started.

Gradio builds its page in the browser (its JS bundle, then the layout, then each component's
code): 1.3-1.9 s on a quiet 2-core machine before the live avatar can show, an empty page
until then. So the HTML that ``/`` serves (Gradio's index template) carries the start avatar
as a plain ``<img>`` (a data: URI: no second request, nothing from a third party), where the
live avatar will be; a few lines of script hand over to the live component without a flash:
once Gradio has laid the page out the placeholder sits exactly on the live image's box, and
it goes when the live image has loaded and nothing covers it. A link to another design
(``?r=``, ``?recipe=``) or another design kept in this browser removes it before the first
paint: the visitor never sees a face that is not theirs.

    html = placeholder(webp, {"en": "Your avatar", "zh": "你的头像"}, start_code)
    Middleware(FirstPaint, html=html)               # serving.launch adds it for a demo that has one
"""
from __future__ import annotations

import base64
import html as html_lib
import json

MARK = b"<gradio-app"     # the placeholder goes just before Gradio's root element

STYLE = """<style>
#first-avatar { --s: min(46vw, 62vh, 806px); position: absolute; z-index: 1000; pointer-events: none;
                top: 118px; left: calc(69vw - var(--s) / 2); width: var(--s); height: var(--s); }
#first-avatar img { display: block; width: 100%; height: 100%;
                    background: repeating-conic-gradient(#e9e9e9 0% 25%, #ffffff 0% 50%) 50% / 20px 20px; }
@media (max-width: 767px) { #first-avatar { --s: 30vh; top: 230px; left: calc(50vw - var(--s) / 2); } }
</style>"""

# Whether an avatar <img> is shown: loaded, rendered visible, and not under an opaque progress
# overlay of Gradio's (a JS function; the benchmark and the browser tests use it too).
SHOWN_JS = """(i) => { if (!i || !i.complete || !i.naturalWidth || !i.checkVisibility({opacityProperty: true,
  visibilityProperty: true})) return false; const s = i.closest('#avatar')?.querySelector('[data-testid=status-tracker]');
  if (!s) return true; const c = getComputedStyle(s); return c.opacity === '0' || c.backgroundColor === 'rgba(0, 0, 0, 0)'; }"""

# Runs as the HTML is parsed (before the first paint).
SCRIPT = """<script>(() => {
const box = document.getElementById('first-avatar'); if (!box) return;
const q = new URLSearchParams(location.search); let stored = '', lang = 'en';
try { stored = localStorage.getItem('avatar-studio:r') || ''; lang = localStorage.getItem('avatar-studio:lang') || 'en'; } catch (e) {}
const mine = q.get('r') || (q.get('recipe') ? '?' : stored);
if (mine && mine !== box.dataset.start) { box.remove(); return; }
const img = box.querySelector('img'), alts = JSON.parse(box.dataset.alts); img.alt = alts[lang] || alts.en;
const shown = SHOWN, until = performance.now() + 60000;
const follow = () => {
  const live = document.querySelector('#avatar img');
  if (shown(live)) { box.remove(); return; }
  const r = live && live.getBoundingClientRect();
  if (r && r.width > 0) Object.assign(box.style, {left: r.left + scrollX + 'px', top: r.top + scrollY + 'px',
                                                  width: r.width + 'px', height: r.height + 'px'});
  if (performance.now() < until) requestAnimationFrame(follow); else box.remove();   // no live page: step aside
};
requestAnimationFrame(follow);
})();</script>""".replace("SHOWN", SHOWN_JS)


def placeholder(webp: bytes, alts: dict[str, str], start_code: str) -> str:
    """The placeholder's HTML: the start avatar (``webp``: the live image's bytes), its alt text in
    each language, and the share code of the start design (a link or a kept design with this code
    shows the same face)."""
    src = "data:image/webp;base64," + base64.b64encode(webp).decode("ascii")
    return (f'<div id="first-avatar" data-start="{html_lib.escape(start_code)}" '
            f'data-alts="{html_lib.escape(json.dumps(alts, ensure_ascii=False))}">'
            f'<img src="{src}" alt="{html_lib.escape(alts["en"])}"></div>{STYLE}{SCRIPT}')


class FirstPaint:
    """ASGI middleware: the page's HTML (GET / and its query strings) gets ``html`` just before
    Gradio's root element. Every other response passes untouched, streamed as it comes."""

    def __init__(self, app, html: str):
        self.app = app
        self.html = html.encode("utf-8")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "GET" or scope["path"] != "/":
            return await self.app(scope, receive, send)
        start, chunks = None, []

        async def hold(message):
            nonlocal start
            if message["type"] == "http.response.start":
                start = message
            elif message["type"] == "http.response.body":
                chunks.append(message.get("body", b""))
                if not message.get("more_body", False):
                    await send_page(b"".join(chunks))
            else:
                await send(message)

        async def send_page(body: bytes):
            headers = [(k, v) for k, v in start["headers"] if k.lower() != b"content-length"]
            html_page = dict(headers).get(b"content-type", b"").startswith(b"text/html")
            if start["status"] == 200 and html_page and MARK in body:
                body = body.replace(MARK, self.html + MARK, 1)
            await send({**start, "headers": [*headers, (b"content-length", str(len(body)).encode())]})
            await send({"type": "http.response.body", "body": body})

        await self.app(scope, receive, hold)

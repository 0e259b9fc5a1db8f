"""The README's pictures: each one there, small, and the screenshots those scripts.readme_assets takes."""
import re
from pathlib import Path

from PIL import Image

from scripts.readme_assets import SHOTS

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_every_readme_picture_is_there_and_small():
    pictures = set(re.findall(r"\]\((assets/[^)]+\.png)\)|src=\"(assets/[^\"]+\.png)\"", README))
    paths = {p for pair in pictures for p in pair if p}
    assert paths
    for path in paths:
        assert (ROOT / path).stat().st_size < 1024 * 1024, path          # (every shipped file < 10 MiB; these < 1)


def test_the_readme_shows_every_screenshot_at_its_screen_size():
    for name, (viewport, _, _) in SHOTS.items():
        assert f"assets/{name}" in README, name
        assert Image.open(ROOT / "assets" / name).size == (viewport["width"], viewport["height"]), name

"""The README's pictures (scripts/readme_assets.py): the sheet of the same people in every style, and the
screenshots: each one there, small, at its screen's size."""
from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from PIL import Image

from scripts.readme_assets import SHOTS, style_sheet

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_style_sheet_shows_the_same_people_in_every_style(styled_studio, tmp_path):
    """A row per loaded style; cell (style, i) is person i (seed i, all "any" in avataaars) restyled."""
    path = tmp_path / "styles.png"
    style_sheet(styled_studio, path, people=3, size=32, label=80)
    sheet = np.asarray(Image.open(path))
    assert sheet.shape == (2 * 32, 80 + 3 * 32, 4) and styled_studio.styles == ["avataaars", "big-smile"]
    for row, style in enumerate(styled_studio.styles):
        for i in range(3):
            person = styled_studio.restyle(styled_studio.resolve({}, i), style)
            assert person.get("style", "avataaars") == style
            want = Image.new("RGBA", (32, 32), (246, 243, 238, 255))
            want.alpha_composite(styled_studio.design(person, i).resize((32, 32), Image.LANCZOS))
            cell = sheet[row * 32:(row + 1) * 32, 80 + i * 32:80 + (i + 1) * 32]
            assert np.array_equal(cell, np.asarray(want)), (style, i)
    assert sheet[:, :80].min() < 200, "each row names its style"


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

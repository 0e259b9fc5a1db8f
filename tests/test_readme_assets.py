"""The README's pictures: the sheet of the same people in every style (scripts/readme_assets.py)."""
from __future__ import annotations

import numpy as np
from PIL import Image

from scripts.readme_assets import style_sheet


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

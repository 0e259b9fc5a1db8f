"""The DiceBear "avataaars" style as a labelled image source (the first generator's style).

A thin view of ``train.styles`` for the "avataaars" declaration (train/styles/avataaars.py):
the same vocabulary, options and PNG bytes as before styles were generalised.
"""
from __future__ import annotations

from dicebear import Style

from train import styles
from train.styles import NONE  # noqa: F401  (part of this module's interface)

STYLE_NAME = "avataaars"
# our attribute -> DiceBear component, and our colours
CATEGORICAL = {key: part.component for key, part in styles.declaration(STYLE_NAME).categorical.items()}
COLORS = tuple(styles.declaration(STYLE_NAME).colors)
# Expression presets in this style's ids (train/styles/avataaars.py); vocabulary.json carries them
# to the model's config, from which the app builds its expression menu.
EXPRESSIONS: dict[str, dict[str, str]] = styles.declaration(STYLE_NAME).presets


def style_definition() -> dict:
    return styles.style_definition(STYLE_NAME)


def style() -> Style:
    return styles.dicebear_style(STYLE_NAME)


def license_text() -> str:
    return styles.license_text(STYLE_NAME)


def vocabulary() -> dict:
    """Attribute -> ordered choices, plus the colour palettes of the style."""
    return styles.vocabulary(STYLE_NAME)


def dicebear_options(labels: dict, hidden: dict) -> dict:
    """DiceBear options for one avatar; ``hidden`` holds the unlabelled choices."""
    return styles.dicebear_options(STYLE_NAME, labels, hidden)


def render_png(labels: dict, hidden: dict, size: int) -> bytes:
    """Render one avatar as RGBA PNG bytes (transparent background)."""
    return styles.render_png(STYLE_NAME, labels, hidden, size)

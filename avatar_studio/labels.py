"""Human names of the page's ids per language, from assets/labels.json (no gradio here).

    labels = Labels.load()
    labels.choice("zh", "hair", "bob")        # '波波头'
    labels.choice("zh", "hair", "newHair2")   # 'New hair 2': English, then a humanised id, as fallbacks
"""
from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

LABELS_FILE = Path(__file__).resolve().parent.parent / "assets" / "labels.json"
LANGUAGES = {"en": "English", "zh": "中文"}


def humanize(name: str) -> str:
    """A readable label for an id nobody translated: 'shortCurly' -> 'Short curly'."""
    spaced = re.sub(r"(?<=[a-z])(?=[A-Z0-9])|(?<=[0-9])(?=[A-Za-z])|(?<=[A-Z])(?=[A-Z][a-z])", " ", str(name))
    text = " ".join(spaced.replace("_", " ").replace("-", " ").split()).lower()
    return text[:1].upper() + text[1:]


def check_language(lang: object) -> str:
    if lang not in LANGUAGES:
        raise ValueError(f"language must be one of: {', '.join(LANGUAGES)}, got {str(lang)[:40]!r}")
    return lang


class Labels:
    """Human names per language; English, then a humanised id, as fallbacks."""

    def __init__(self, table: dict):
        self.table = table

    @classmethod
    def load(cls, path: Path = LABELS_FILE) -> "Labels":
        return cls(json.loads(Path(path).read_text(encoding="utf-8")))

    def _find(self, lang: str, *keys: str) -> str | None:
        for language in (lang, "en"):
            node: Any = self.table.get(language, {})
            for key in keys:
                node = node.get(key) if isinstance(node, dict) else None
            if isinstance(node, str):
                return node
        return None

    def ui(self, lang: str, key: str) -> str:
        return self._find(lang, "ui", key) or humanize(key)

    def attribute(self, lang: str, name: str) -> str:
        return self._find(lang, "attributes", name) or humanize(name)

    def choice(self, lang: str, attribute: str, value: str) -> str:
        return (self._find(lang, "choices", attribute, value) or self._find(lang, "choices", "common", value)
                or humanize(value))

    def expression(self, lang: str, name: str) -> str:
        return self._find(lang, "expressions", name) or self._find(lang, "choices", "common", name) or humanize(name)

    def style(self, lang: str, name: str) -> str:
        """An art style's name ("big-smile" -> '大笑脸')."""
        return self._find(lang, "styles", name) or humanize(name)

    def slider(self, lang: str, name: str) -> str:
        return self._find(lang, "sliders", name) or humanize(name)

    def colour(self, lang: str, color: str) -> str:
        """The name of a swatch's colour ("#a55728" -> 'Auburn'; the code itself when nobody named it)."""
        return self._find(lang, "colours", color.lower()) or color

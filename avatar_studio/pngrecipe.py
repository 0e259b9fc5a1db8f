"""The recipe inside a PNG: one tEXt chunk, written and read as bytes (no re-encoding, no gradio).

    png = with_recipe(studio.render_png(r), r.to_json())    # the same pixels, plus the recipe
    recipe_in(png)                                          # the recipe JSON text back

A PNG made by the page (or the CLI) can be dropped back onto the page, or given to
``python -m avatar_studio design --recipe avatar.png``, and the design comes back, editable.
"""
from __future__ import annotations

import json
import struct
import zlib

from avatar_studio.recipe import MAX_RECIPE_BYTES

SIGNATURE = b"\x89PNG\r\n\x1a\n"
KEYWORD = b"avatar-studio:recipe"          # tEXt keyword (Latin-1, at most 79 bytes)
MAX_PNG_BYTES = 1024 * 1024                # a dropped PNG is read in memory up to this size (1024 px: ~0.55 MB)


def is_png(data: bytes) -> bool:
    return data[:8] == SIGNATURE


def png_chunk(kind: bytes, body: bytes) -> bytes:
    """One PNG chunk: length, type, body, CRC."""
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))


def with_recipe(png: bytes, recipe_json: str) -> bytes:
    """The PNG with the recipe in a tEXt chunk right after IHDR (ASCII JSON; pixels untouched)."""
    if not is_png(png) or png[12:16] != b"IHDR":
        raise ValueError("not a PNG file")
    text = json.dumps(json.loads(recipe_json), separators=(",", ":"), ensure_ascii=True)
    ihdr_end = 8 + 8 + struct.unpack(">I", png[8:12])[0] + 4
    return png[:ihdr_end] + png_chunk(b"tEXt", KEYWORD + b"\0" + text.encode("ascii")) + png[ihdr_end:]


def recipe_in(png: bytes) -> str:
    """The recipe JSON text a PNG made here carries; ValueError names what is wrong."""
    if not is_png(png):
        raise ValueError("not a PNG file (drop a PNG made by Avatar Studio, or a recipe .json)")
    at = 8
    while at + 12 <= len(png):
        length, kind = struct.unpack(">I", png[at:at + 4])[0], png[at + 4:at + 8]
        body = png[at + 8:at + 8 + length]
        if len(body) != length:
            break
        if kind == b"tEXt" and body.startswith(KEYWORD + b"\0"):
            text = body[len(KEYWORD) + 1:]
            if len(text) > MAX_RECIPE_BYTES:
                raise ValueError(f"the PNG's recipe is too large (at most {MAX_RECIPE_BYTES} bytes)")
            return text.decode("latin-1")
        if kind == b"IEND":
            break
        at += 12 + length
    raise ValueError("this PNG carries no Avatar Studio recipe (only PNGs downloaded from the studio do)")


def recipe_text(data: bytes) -> str:
    """Recipe JSON text from an uploaded file's bytes: a PNG made here, or the JSON itself."""
    if is_png(data):
        return recipe_in(data)
    if len(data) > MAX_RECIPE_BYTES:
        raise ValueError(f"recipe file is too large (at most {MAX_RECIPE_BYTES} bytes)")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise ValueError("recipe file is not UTF-8 text") from None

"""Read and validate a labelled avatar folder (Hugging Face imagefolder convention).

A folder holds images, ``metadata.jsonl`` (one JSON object per line: "file_name" plus one
key per attribute) and ``vocabulary.json`` (attribute -> ordered choices). A vocabulary may
also list "unlabelled" choices (parts a user never picks, such as hat colour): rows may then
record them too, all rows or none, and training uses them as supervised style codes. Any folder in
this format trains, so people can bring their own labelled art. Every row is checked
before training starts and all problems are reported together, as
``metadata.jsonl:LINE: unknown hair 'bobb'; choose one of: ...``. Rows that ``train.label``
wrote may also carry "<attribute>_confidence" (a number from 0 to 1); training reads past it.
"""
from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from avatar_studio.attributes import Vocabulary
from train.errors import TrainError

METADATA = "metadata.jsonl"
VOCABULARY = "vocabulary.json"
MAX_REPORTED = 50
CONFIDENCE = "_confidence"  # "<attribute>_confidence": how sure a pseudo-label is (train.label); not used


class DatasetError(TrainError, ValueError):
    """The folder is not a valid labelled avatar set; the message lists every bad row."""


def read_vocabulary(folder: Path) -> Vocabulary:
    path = Path(folder) / VOCABULARY
    if not path.is_file():
        raise DatasetError(f"{path} is missing: the folder needs its vocabulary (attribute -> choices)")
    try:
        return Vocabulary.from_dict(json.loads(path.read_text()))
    except (ValueError, KeyError, TypeError, AttributeError) as e:
        raise DatasetError(f"{path} is not a valid vocabulary ({e!r})") from None


def read_style(folder: Path) -> str:
    """The DiceBear style a rendered folder was drawn from (vocabulary.json "style"; avataaars if absent)."""
    data = json.loads((Path(folder) / VOCABULARY).read_text())
    return str(data.get("style", "avataaars")) if isinstance(data, dict) else "avataaars"


def read_unlabelled(folder: Path) -> dict[str, list[str]]:
    """The vocabulary's optional "unlabelled" block: name -> ordered choices ({} when absent)."""
    data = json.loads((Path(folder) / VOCABULARY).read_text())
    block = data.get("unlabelled", {}) if isinstance(data, dict) else {}
    if not isinstance(block, dict) or not all(isinstance(v, list) and v for v in block.values()):
        raise DatasetError(f"{Path(folder) / VOCABULARY}: \"unlabelled\" must map names to lists of choices")
    clash = sorted(set(block) & set(read_vocabulary(folder).names) | set(block) & {"file_name"})
    if clash:
        raise DatasetError(f"{Path(folder) / VOCABULARY}: unlabelled names clash with attributes: {', '.join(clash)}")
    return {str(k): [str(c) for c in v] for k, v in block.items()}


def jsonl_objects(path: Path) -> Iterator[tuple[int, dict | None, str | None]]:
    """(line number, object, None) per non-blank line of a JSON-lines file, or (number, None, problem)
    for a line that is not UTF-8, not JSON or not an object; read line by line, so one bad byte is
    reported with its line (a leading BOM is fine)."""
    with open(path, "rb") as f:
        for number, raw in enumerate(f, start=1):
            try:
                line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
            except UnicodeDecodeError:
                yield number, None, "not valid UTF-8 text"
                continue
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as e:
                yield number, None, f"not valid JSON ({e.msg})"
                continue
            yield (number, row, None) if isinstance(row, dict) else (number, None, "a row must be a JSON object")


def listing(errors: list[str]) -> str:
    """The first MAX_REPORTED problems, one a line, and how many more."""
    more = f"\n... and {len(errors) - MAX_REPORTED} more" if len(errors) > MAX_REPORTED else ""
    return "\n".join(errors[:MAX_REPORTED]) + more


def _check_row(row: dict, vocab: Vocabulary, folder: Path,
               unlabelled: dict[str, list[str]]) -> tuple[dict | None, list[str]]:
    problems = []
    file_name = row.get("file_name")
    if not isinstance(file_name, str) or not file_name:
        problems.append("missing \"file_name\"")
    elif Path(file_name).is_absolute() or ".." in Path(file_name).parts:
        problems.append(f"file_name {file_name!r} must be a path inside the folder")
    elif not (folder / file_name).is_file():
        problems.append(f"image file {file_name!r} does not exist")
    for name in vocab.names:
        if name not in row:
            problems.append(f"missing attribute {name!r}")
            continue
        if row[name] == "any":
            problems.append(f"{name} is 'any': training rows need a concrete value")
            continue
        try:
            vocab.validate({name: row[name]})
        except ValueError as e:
            problems.append(str(e).replace(" (or 'any')", "").replace(" or 'any'", ""))  # not in training rows
    for name, choices in unlabelled.items():
        if name in row and row[name] not in choices:
            problems.append(f"unknown {name} {row[name]!r}; choose one of: {', '.join(choices)}")
    for key in row:
        if key.endswith(CONFIDENCE) and key[:-len(CONFIDENCE)] in vocab.names:  # written by train.label
            value = row[key]
            if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
                problems.append(f"{key} must be a number from 0 to 1, got {str(value)[:40]!r}")
        elif key != "file_name" and key not in vocab.names and key not in unlabelled:
            problems.append(f"unknown attribute {key!r}; expected: {', '.join(vocab.names + list(unlabelled))}")
    return (row if not problems else None), problems


def read_metadata(folder: Path) -> tuple[Vocabulary, list[dict]]:
    """Validate every row of DIR/metadata.jsonl; return the vocabulary and the rows."""
    folder = Path(folder)
    vocab = read_vocabulary(folder)
    unlabelled = read_unlabelled(folder)
    path = folder / METADATA
    if not path.is_file():
        raise DatasetError(f"{path} is missing")
    rows, errors = [], []
    for number, row, problem in jsonl_objects(path):
        problems = [problem] if problem else []
        if row is not None:
            row, problems = _check_row(row, vocab, folder, unlabelled)
        errors += [f"{METADATA}:{number}: {p}" for p in problems]
        if row is not None:
            rows.append(row)
    if errors:
        raise DatasetError(f"{path}: {len(errors)} problem(s)\n" + listing(errors))
    if not rows:
        raise DatasetError(f"{path} has no rows")
    return vocab, rows


def load_images(folder: Path, rows: list[dict], size: int) -> torch.Tensor:
    """All images as one uint8 RGBA tensor (N, 4, size, size)."""
    out = torch.empty(len(rows), 4, size, size, dtype=torch.uint8)
    for i, row in enumerate(rows):
        path = Path(folder) / row["file_name"]
        try:
            with Image.open(path) as im:
                im = im.convert("RGBA")
                if im.size != (size, size):
                    im = im.resize((size, size), Image.LANCZOS)
                out[i] = torch.from_numpy(np.asarray(im).copy()).permute(2, 0, 1)
        except OSError as e:
            raise DatasetError(f"{METADATA}: cannot read image {row['file_name']!r} ({e})") from None
    return out


def encode_unlabelled(rows: list[dict], unlabelled: dict[str, list[str]]) -> torch.Tensor | None:
    """(N, U) choice indices of the unlabelled parts, or None when the rows don't record them."""
    have = [all(name in row for name in unlabelled) for row in rows]
    if not unlabelled or not any(have):
        return None
    if not all(have):
        missing = have.index(False) + 1
        raise DatasetError(f"{METADATA}: row {missing} lacks unlabelled choices ({', '.join(unlabelled)}) "
                           f"that other rows record: record them in every row or in none")
    return torch.tensor([[choices.index(row[name]) for name, choices in unlabelled.items()] for row in rows])


class AvatarSet:
    """Images (uint8, in memory) with their encoded conditions (and unlabelled choices, if recorded)."""

    def __init__(self, folder: Path, size: int):
        self.vocab, self.rows = read_metadata(folder)
        self.unlabelled = read_unlabelled(folder)
        self.images = load_images(folder, self.rows, size)   # (N, 4, S, S) uint8
        self.index, self.rgb = self.vocab.encode(self.rows)   # (N, A) long, (N, C, 3) float
        self.codes = encode_unlabelled(self.rows, self.unlabelled)  # (N, U) long or None

    def __len__(self) -> int:
        return len(self.rows)

    def batch(self, ids: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(images float (B, 4, S, S) in [0, 1], index, rgb) for the given row ids."""
        return self.images[ids].float() / 255.0, self.index[ids], self.rgb[ids]

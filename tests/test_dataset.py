"""The dataset reader (train/dataset.py): every bad row is reported with its line, all at once."""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from train.dataset import AvatarSet, DatasetError, load_images, read_metadata

NAMES = "hair, outfit, eyes, eyebrows, mouth, accessories, facial_hair, hair_color, outfit_color, skin_color"
UNLABELLED = "hat_color, accessories_color, clothes_graphic"
DROP = object()  # a key to leave out of a row
COLOUR_RULE = "must be a colour like '#a55728' (\"#rrggbb\"), got"


@pytest.fixture(scope="module")
def good_row(tiny_data) -> dict:
    return json.loads((tiny_data / "metadata.jsonl").read_text().splitlines()[0])


@pytest.fixture
def folder(tiny_data, good_row, tmp_path) -> Path:
    """A valid two-image folder: vocabulary.json, a.png, b.png."""
    shutil.copy(tiny_data / "vocabulary.json", tmp_path)
    shutil.copy(tiny_data / good_row["file_name"], tmp_path / "a.png")
    shutil.copy(tiny_data / good_row["file_name"], tmp_path / "b.png")
    return tmp_path


def write(folder: Path, *lines: str) -> None:
    (folder / "metadata.jsonl").write_text("".join(line + "\n" for line in lines))


def row(good: dict, **changes) -> str:
    data = {**good, "file_name": "a.png", **changes}
    return json.dumps({k: v for k, v in data.items() if v is not DROP})


def problems(folder: Path) -> list[str]:
    with pytest.raises(DatasetError) as e:
        read_metadata(folder)
    header, *lines = str(e.value).splitlines()
    more = int(lines[-1].split()[2]) if lines[-1].startswith("... and ") else 0
    assert header == f"{folder / 'metadata.jsonl'}: {len(lines) - (more > 0) + more} problem(s)"
    return lines


def hair_choices(tiny_data) -> str:
    return ", ".join(json.loads((tiny_data / "vocabulary.json").read_text())["categorical"]["hair"])


# ---- one bad row at a time: the exact message ----------------------------------------------
CASES = {
    "unknown choice": ({"hair": "bobb"}, "unknown hair 'bobb'; choose one of: {hair}"),
    "not a string": ({"hair": 5}, "unknown hair 5; choose one of: {hair}"),
    "missing attribute": ({"eyes": DROP}, "missing attribute 'eyes'"),
    "unknown extra key": ({"glasses": "round"}, f"unknown attribute 'glasses'; expected: {NAMES}, {UNLABELLED}"),
    "unknown unlabelled choice": ({"hat_color": "#123456"}, "unknown hat_color '#123456'; choose one of: {hat}"),
    "unknown graphic": ({"clothes_graphic": "smiley"}, "unknown clothes_graphic 'smiley'; choose one of: {graphic}"),
    "colour word": ({"hair_color": "red"}, f"hair_color {COLOUR_RULE} 'red'"),
    "short colour": ({"outfit_color": "#12345"}, f"outfit_color {COLOUR_RULE} '#12345'"),
    "not hex": ({"skin_color": "#gggggg"}, f"skin_color {COLOUR_RULE} '#gggggg'"),
    "script": ({"hair_color": "javascript:alert(1)"}, f"hair_color {COLOUR_RULE} 'javascript:alert(1)'"),
    "colour as number": ({"hair_color": 16711680}, f"hair_color {COLOUR_RULE} 16711680"),
    "any categorical": ({"hair": "any"}, "hair is 'any': training rows need a concrete value"),
    "any colour": ({"skin_color": "any"}, "skin_color is 'any': training rows need a concrete value"),
    "missing image": ({"file_name": "missing.png"}, "image file 'missing.png' does not exist"),
    "no file_name": ({"file_name": DROP}, 'missing "file_name"'),
    "empty file_name": ({"file_name": ""}, 'missing "file_name"'),
    "parent path": ({"file_name": "../outside.png"}, "file_name '../outside.png' must be a path inside the folder"),
    "nested parent": ({"file_name": "sub/../../outside.png"},
                      "file_name 'sub/../../outside.png' must be a path inside the folder"),
    "absolute path": ({"file_name": "/etc/passwd"}, "file_name '/etc/passwd' must be a path inside the folder"),
}


@pytest.mark.parametrize("changes, message", CASES.values(), ids=CASES.keys())
def test_bad_row_message(folder, good_row, tiny_data, changes, message):
    shutil.copy(folder / "a.png", folder.parent / "outside.png")  # exists, but outside the folder
    write(folder, row(good_row), row(good_row, **changes))
    vocabulary = json.loads((tiny_data / "vocabulary.json").read_text())
    choices = {"hair": hair_choices(tiny_data), "hat": ", ".join(vocabulary["unlabelled"]["hat_color"]),
               "graphic": ", ".join(vocabulary["unlabelled"]["clothes_graphic"])}
    assert problems(folder) == [f"metadata.jsonl:2: {message.format(**choices)}"]


@pytest.mark.parametrize("line, message", [
    ("{not json}", "not valid JSON (Expecting property name enclosed in double quotes)"),
    ('{"file_name": "a.png",', "not valid JSON (Expecting property name enclosed in double quotes)"),
    ("[\"a.png\", \"bob\"]", "a row must be a JSON object"),
    ("\"a.png\"", "a row must be a JSON object"),
    ("null", "a row must be a JSON object"),
], ids=["invalid JSON", "cut-off JSON", "array row", "string row", "null row"])
def test_unreadable_row_message(folder, good_row, line, message):
    write(folder, row(good_row), line)
    assert problems(folder) == [f"metadata.jsonl:2: {message}"]


def test_invalid_utf8_row_is_reported_with_its_line(folder, good_row):
    (folder / "metadata.jsonl").write_bytes(row(good_row).encode() + b"\n" + b'{"hair": "b\xffb"}\n')
    assert problems(folder) == ["metadata.jsonl:2: not valid UTF-8 text"]


def test_missing_vocabulary(folder, good_row):
    write(folder, row(good_row))
    (folder / "vocabulary.json").unlink()
    with pytest.raises(DatasetError) as e:
        read_metadata(folder)
    assert str(e.value) == (f"{folder / 'vocabulary.json'} is missing: the folder needs its vocabulary "
                            f"(attribute -> choices)")


def test_broken_vocabulary(folder, good_row):
    write(folder, row(good_row))
    (folder / "vocabulary.json").write_text('{"categorical": 5}')
    with pytest.raises(DatasetError, match=r"vocabulary.json is not a valid vocabulary"):
        read_metadata(folder)


def test_missing_and_empty_metadata(folder):
    with pytest.raises(DatasetError, match=r"metadata.jsonl is missing$"):
        read_metadata(folder)
    write(folder, "", "  ")
    with pytest.raises(DatasetError, match=r"metadata.jsonl has no rows$"):
        read_metadata(folder)


# ---- all together --------------------------------------------------------------------------
def test_every_problem_is_reported_together_with_its_line(folder, good_row, tiny_data):
    write(folder,
          row(good_row),                                        # 1 fine
          row(good_row, hair="bobb", skin_color="red"),         # 2 two problems in one row
          "",                                                   # 3 blank lines are skipped
          row(good_row, file_name="b.png"),                     # 4 fine
          "{not json}",                                         # 5
          row(good_row, eyes=DROP, glasses="round"),            # 6
          "[]",                                                 # 7
          row(good_row, file_name="gone.png", hair="any"))      # 8
    hair = hair_choices(tiny_data)
    assert problems(folder) == [
        f"metadata.jsonl:2: unknown hair 'bobb'; choose one of: {hair}",
        f"metadata.jsonl:2: skin_color {COLOUR_RULE} 'red'",
        "metadata.jsonl:5: not valid JSON (Expecting property name enclosed in double quotes)",
        "metadata.jsonl:6: missing attribute 'eyes'",
        f"metadata.jsonl:6: unknown attribute 'glasses'; expected: {NAMES}, {UNLABELLED}",
        "metadata.jsonl:7: a row must be a JSON object",
        "metadata.jsonl:8: image file 'gone.png' does not exist",
        "metadata.jsonl:8: hair is 'any': training rows need a concrete value",
    ]


def test_a_long_list_of_problems_is_cut_short(folder, good_row):
    write(folder, *[row(good_row, hair="bobb")] * 60)
    lines = problems(folder)
    assert len(lines) == 51 and lines[-1] == "... and 10 more"
    assert lines[0].startswith("metadata.jsonl:1: unknown hair 'bobb'")
    assert lines[49].startswith("metadata.jsonl:50: unknown hair 'bobb'")


# ---- valid folders load --------------------------------------------------------------------
def test_valid_folder_loads(folder, good_row):
    write(folder, row(good_row), "", row(good_row, file_name="b.png", hair="none", accessories="sunglasses"))
    vocab, rows = read_metadata(folder)
    assert [r["file_name"] for r in rows] == ["a.png", "b.png"]
    assert rows[1]["hair"] == "none" and rows[1]["accessories"] == "sunglasses"
    assert vocab.names == NAMES.split(", ")


def test_rendered_pack_loads_as_a_training_set(tiny_data):
    data = AvatarSet(tiny_data, size=32)
    assert len(data) == 48
    images, index, rgb = data.batch(data.index.new_tensor([0, 5]))
    assert images.shape == (2, 4, 32, 32) and 0 <= images.min() and images.max() <= 1
    assert index.shape == (2, 7) and rgb.shape == (2, 3, 3)


def test_rendered_pack_records_the_unlabelled_choices_it_drew(tiny_data):
    from train import avataaars
    from train.render_dataset import draw_labels
    data = AvatarSet(tiny_data, size=32)
    vocab = avataaars.vocabulary()
    assert data.unlabelled == vocab["unlabelled"] and data.codes.shape == (48, 3)
    for i in (0, 17, 47):
        _, hidden = draw_labels(3, i, vocab)  # the tiny set is rendered with seed 3
        assert [choices[c] for choices, c in zip(vocab["unlabelled"].values(), data.codes[i].tolist())] == \
            list(hidden.values())


def test_unlabelled_choices_are_recorded_in_every_row_or_none(folder, good_row):
    write(folder, row(good_row, file_name="a.png"), row(good_row, file_name="b.png", hat_color=DROP))
    read_metadata(folder)  # each row is valid on its own
    with pytest.raises(DatasetError, match="row 2 lacks unlabelled choices .* record them in every row or in none"):
        AvatarSet(folder, size=32)
    plain = {k: v for k, v in good_row.items() if k not in UNLABELLED.split(", ")}
    write(folder, row(plain), row(plain, file_name="b.png"))
    assert AvatarSet(folder, size=32).codes is None  # then training falls back to its encoder


def test_a_vocabulary_without_unlabelled_rejects_those_keys(folder, good_row):
    vocabulary = json.loads((folder / "vocabulary.json").read_text())
    del vocabulary["unlabelled"]
    (folder / "vocabulary.json").write_text(json.dumps(vocabulary))
    write(folder, row(good_row))
    assert problems(folder)[0].startswith("metadata.jsonl:1: unknown attribute 'hat_color'; expected: hair,")


def test_unlabelled_names_must_not_clash_with_attributes(folder, good_row):
    vocabulary = json.loads((folder / "vocabulary.json").read_text())
    vocabulary["unlabelled"]["hair"] = ["x"]
    (folder / "vocabulary.json").write_text(json.dumps(vocabulary))
    write(folder, row(good_row))
    with pytest.raises(DatasetError, match="unlabelled names clash with attributes: hair"):
        read_metadata(folder)


def test_unreadable_image_is_named(folder, good_row):
    (folder / "a.png").write_bytes(b"not a png")
    write(folder, row(good_row))
    _, rows = read_metadata(folder)  # the file exists; its bytes are checked when loaded
    with pytest.raises(DatasetError, match=r"metadata.jsonl: cannot read image 'a.png'"):
        load_images(folder, rows, 32)


def test_windows_style_file_with_bom_and_crlf_loads(folder, good_row):
    (folder / "metadata.jsonl").write_bytes(b"\xef\xbb\xbf" + row(good_row).encode() + b"\r\n"
                                            + row(good_row, file_name="b.png").encode() + b"\r\n")
    _, rows = read_metadata(folder)
    assert [r["file_name"] for r in rows] == ["a.png", "b.png"]

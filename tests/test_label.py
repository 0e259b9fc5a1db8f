"""train.label: pseudo-labels from a few tags, end to end on a tiny rendered folder; bad input; the page."""
from __future__ import annotations

import json
import shutil
import socket
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train.dataset import AvatarSet, DatasetError, read_metadata
from train.label import load_features, main, run, to_rgba


def true_rows(folder: Path) -> list[dict]:
    return [json.loads(line) for line in (folder / "metadata.jsonl").read_text().splitlines()]


@pytest.fixture()
def art(tiny_data, tmp_path) -> Path:
    """The tiny rendered images without their labels (a copy: tests add files to it)."""
    folder = tmp_path / "art"
    folder.mkdir()
    for path in tiny_data.glob("*.png"):
        shutil.copy(path, folder / path.name)
    return folder


def write_tags(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture()
def tags(tiny_data, tmp_path) -> Path:
    """Every outfit and eyes class of the tiny set tagged on its first image; hair colour on 4."""
    lines, seen = [], {}
    for row in true_rows(tiny_data):
        for name in ("outfit", "eyes"):
            if seen.setdefault((name, row[name]), 0) < 1:
                seen[(name, row[name])] += 1
                lines.append({"file_name": row["file_name"], name: row[name]})
    lines += [{"file_name": r["file_name"], "hair_color": r["hair_color"]} for r in true_rows(tiny_data)[:4]]
    return write_tags(tmp_path / "tags.jsonl", lines)


def test_tiny_folder_end_to_end_then_trains(art, tags, tmp_path, tiny_data):
    out = tmp_path / "out"
    logs = []
    result = run(art, tags, out, suggest=5, size=32, progress=False, log=logs.append)
    vocab, rows = read_metadata(out)                                  # train.train's reader accepts it
    assert len(rows) == 48 and set(vocab.names) == {"eyes", "outfit", "hair_color"}
    truth = {r["file_name"]: r for r in true_rows(tiny_data)}
    tagged = {}
    for line in tags.read_text().splitlines():
        row = json.loads(line)
        tagged.setdefault(row.pop("file_name"), {}).update(row)
    for row in rows:
        name = Path(row["file_name"]).name
        for key in ("outfit", "eyes", "hair_color"):
            assert 0 <= row[f"{key}_confidence"] <= 1
            if key in tagged.get(name, {}):                           # tags are kept, fully sure
                assert row[key] == tagged[name][key] and row[f"{key}_confidence"] == 1
        assert row["outfit"] in vocab.categorical["outfit"]
    assert AvatarSet(out, size=32).images.shape == (48, 4, 32, 32)
    untagged = [r for r in rows if "outfit" not in tagged.get(Path(r["file_name"]).name, {})]
    hits = sum(r["outfit"] == truth[Path(r["file_name"]).name]["outfit"] for r in untagged)
    assert hits > len(untagged) / len(vocab.categorical["outfit"])   # above chance from one tag a class at 32 px
    suggestions = [json.loads(line) for line in (out / "suggest.jsonl").read_text().splitlines()]
    assert len(suggestions) == 5 and len({s["file_name"] for s in suggestions}) == 5
    assert not {s["file_name"] for s in suggestions} & set(tagged)
    assert json.loads((out / "vocabulary.json").read_text())["colors"] == ["hair_color"]
    assert len(result.files) == 48

    import dataclasses

    from train.train import PRESETS, train
    run_dir = train(out, tmp_path / "run", dataclasses.replace(PRESETS["tiny"], steps=2), progress=False)
    assert (run_dir / "train_config.json").is_file()                  # train.train trains on it as it is

    logs.clear()                                                      # a second run reuses the features
    run(art, tags, out, suggest=5, size=32, progress=False, log=logs.append)
    assert any(line.startswith("features: cached") for line in logs)


def test_feature_cache_is_bounded(art, tmp_path):
    """One cache per image folder (a changed folder replaces its stale cache), and the least
    recently used caches of other folders go once the cache folder holds more than the limit."""
    cache, quiet = tmp_path / "cache", (lambda *_: None)
    files = sorted(p.name for p in art.glob("*.png"))
    other = tmp_path / "other"
    shutil.copytree(art, other)
    load_features(other, files, 32, cache, progress=False, log=quiet)
    first = load_features(art, files, 32, cache, progress=False, log=quiet)
    assert len(list(cache.glob("features-*.npz"))) == 2
    (art / files[0]).unlink()                                         # the folder changed: its old cache is stale
    load_features(art, files[1:], 32, cache, progress=False, log=quiet)
    assert len(list(cache.glob("features-*.npz"))) == 2
    size = max(p.stat().st_size for p in cache.glob("features-*.npz"))
    third = tmp_path / "third"
    shutil.copytree(other, third)
    load_features(other, files, 32, cache, progress=False, log=quiet)    # used again: newer than art's
    load_features(third, files, 32, cache, progress=False, log=quiet, limit=int(2.5 * size))
    kept = list(cache.glob("features-*.npz"))
    assert len(kept) == 2 and sum(p.stat().st_size for p in kept) <= 2.5 * size
    again = []                                                        # art's (least recently used) went
    load_features(art, files[1:], 32, cache, progress=False, log=again.append)
    assert not any(line.startswith("features: cached") for line in again)
    assert len(first.files) == len(files)


def test_min_confidence_leaves_rows_out(art, tags, tmp_path):
    out = tmp_path / "out"
    run(art, tags, out, size=32, progress=False, log=lambda *_: None, min_confidence=0.999)
    rows = [json.loads(line) for line in (out / "metadata.jsonl").read_text().splitlines()]
    assert 0 < len(rows) < 48
    assert all(r["outfit_confidence"] >= 0.999 and r["eyes_confidence"] >= 0.999 for r in rows)


def test_unreadable_image_is_named_and_skipped_with_a_count(art, tags, tmp_path):
    (art / "broken.png").write_bytes(b"not a png at all")
    logs = []
    result = run(art, tags, tmp_path / "out", size=32, progress=False, log=logs.append)
    assert "broken.png" not in result.files and len(result.files) == 48
    assert any("broken.png" in line for line in logs)
    assert any("skipped 1 unreadable image" in line for line in logs)


def cli_error(capsys, *argv) -> str:
    assert main([str(a) for a in argv]) == 2
    err = capsys.readouterr().err
    assert "python -m train.label: error: " in err and "Traceback" not in err
    return err


@pytest.mark.parametrize("line, expected", [
    ({"file_name": "nope.png", "hair": "bob"}, "tags.jsonl:2: image 'nope.png' is not in the images folder"),
    ({"file_name": "000001.png", "hairr": "bob"}, "tags.jsonl:2: unknown attribute 'hairr'"),
    ({"file_name": "000001.png", "hair": "bobb"}, "tags.jsonl:2: unknown hair 'bobb'; choose one of:"),
    ({"file_name": "000001.png", "hair_color": "red"}, "tags.jsonl:2: hair_color must be a colour like"),
    ({"hair": "bob"}, "tags.jsonl:2: missing \"file_name\""),
    ("{not json", "tags.jsonl:2: not valid JSON"),
    (["a list"], "tags.jsonl:2: a row must be a JSON object"),
])
def test_bad_tag_lines_name_the_line_and_exit_2(art, tiny_data, tmp_path, capsys, line, expected):
    first = {"file_name": "000000.png", "hair": true_rows(tiny_data)[0]["hair"]}
    path = tmp_path / "tags.jsonl"
    path.write_text(json.dumps(first) + "\n" + (line if isinstance(line, str) else json.dumps(line)) + "\n")
    err = cli_error(capsys, "--images", art, "--tags", path, "--out", tmp_path / "out", "--size", 32,
                    "--vocabulary", tiny_data / "vocabulary.json")
    assert expected in err


def test_declared_class_without_a_tag_is_refused(art, tiny_data, tmp_path, capsys):
    path = write_tags(tmp_path / "tags.jsonl", [{"file_name": "000000.png", "hair": "bob"}])
    err = cli_error(capsys, "--images", art, "--tags", path, "--out", tmp_path / "out", "--size", 32,
                    "--vocabulary", tiny_data / "vocabulary.json")
    assert "every class needs at least one tag" in err and "hair 'bun'" in err


def test_tag_on_unreadable_image_and_missing_inputs(art, tmp_path, capsys):
    (art / "broken.png").write_bytes(b"\x89PNG broken")
    path = write_tags(tmp_path / "tags.jsonl", [{"file_name": "000000.png", "hair": "bob"},
                                                {"file_name": "broken.png", "hair": "bun"}])
    err = cli_error(capsys, "--images", art, "--tags", path, "--out", tmp_path / "out", "--size", 32)
    assert "tags.jsonl:2: image 'broken.png' could not be read (skipped)" in err
    assert "--tags" in cli_error(capsys, "--images", art, "--tags", tmp_path / "none.jsonl", "--out", tmp_path / "o")
    assert "--images" in cli_error(capsys, "--images", tmp_path / "nowhere", "--tags", path, "--out", tmp_path / "o")
    bad_vocab = tmp_path / "vocab.json"
    bad_vocab.write_text("[1, 2]")
    assert "--vocabulary" in cli_error(capsys, "--images", art, "--tags", path, "--out", tmp_path / "o",
                                       "--vocabulary", bad_vocab)


def test_flat_background_is_cut_out():
    a = np.full((16, 16, 3), 240, np.uint8)
    a[4:12, 4:12] = (200, 30, 30)
    rgba = np.asarray(to_rgba(Image.fromarray(a, "RGB")))
    assert rgba[0, 0, 3] == 0 and rgba[8, 8, 3] == 255 and (rgba[..., 3] > 0).sum() == 64


def test_confidence_keys_are_checked_by_the_dataset_reader(tiny_data, tmp_path):
    folder = tmp_path / "data"
    shutil.copytree(tiny_data, folder)
    rows = true_rows(folder)
    rows[0]["hair_confidence"] = 0.5
    rows[1]["eyes_confidence"] = 1.5
    (folder / "metadata.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    with pytest.raises(DatasetError, match=r"metadata.jsonl:2: eyes_confidence must be a number from 0 to 1"):
        read_metadata(folder)


# ---- the tagging page ---------------------------------------------------------------------------
def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def open_page(art, tags, out, vocabulary):
    from gradio_client import Client

    from train.label_page import build_page, page_vocabulary
    page = build_page(art, tags, out, page_vocabulary(tags, vocabulary), vocabulary, size=32)
    page.queue(default_concurrency_limit=1)
    _, url, _ = page.launch(server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    return page, Client(url, verbose=False, analytics_enabled=False)


@pytest.mark.server
def test_page_saves_tags_reloads_them_and_refreshes(art, tags, tiny_data, tmp_path):
    from gradio_client.exceptions import AppError
    tag_file = tmp_path / "page-tags.jsonl"
    tag_file.write_bytes(tags.read_bytes())
    out = tmp_path / "out"
    name = next(f.name for f in sorted(art.glob("*.png")) if f.name not in tags.read_text())  # an untagged image
    page, client = open_page(art, tag_file, out, None)
    try:
        assert json.loads(client.predict(name, "eyes", "happy", api_name="/tag"))["eyes"] == "happy"
        client.predict(name, "hair_color", "#A55728", api_name="/tag")
        assert tag_file.read_text().splitlines()[-1] == json.dumps({"file_name": name, "hair_color": "#a55728"})
        with pytest.raises(AppError, match="unknown eyes 'happpy'"):
            client.predict(name, "eyes", "happpy", api_name="/tag")
        with pytest.raises(AppError, match="not in the images folder"):
            client.predict("../secret.png", "eyes", "happy", api_name="/tag")
        assert "suggestions" in client.predict(api_name="/refresh")
        assert (out / "metadata.jsonl").is_file() and (out / "suggest.jsonl").is_file()
    finally:
        page.close()
    page, client = open_page(art, tag_file, out, None)                  # a fresh page: tags come back from disk
    try:
        saved = json.loads(client.predict(name, api_name="/tags"))
        assert saved["eyes"] == "happy" and saved["hair_color"] == "#a55728"
    finally:
        page.close()

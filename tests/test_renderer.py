"""The labelled avatar-pack renderer (train/avataaars.py, train/render_dataset.py)."""
from __future__ import annotations

import io
import json
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from train import avataaars
from train.errors import TrainError
from train.render_dataset import METADATA, RENDER_CONFIG, VOCABULARY, draw_labels, render_dataset

ROOT = Path(__file__).resolve().parent.parent
PACK = dict(n=40, size=32, seed=11)  # 40 > the pool's chunk of 32, so two workers both render

# one hand-built avatar; tests change one attribute at a time
BASE = {"hair": "bob", "outfit": "hoodie", "eyes": "default", "eyebrows": "default", "mouth": "smile",
        "accessories": "none", "facial_hair": "none", "hair_color": "#ff0000", "outfit_color": "#00ff00",
        "skin_color": "#edb98a"}
HIDDEN = {"hat_color": "#262e33", "accessories_color": "#262e33", "clothes_graphic": "bat"}


def files_of(folder: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(folder.iterdir()) if p.is_file()}


def pixels(png: bytes) -> np.ndarray:
    with Image.open(io.BytesIO(png)) as im:
        assert im.mode == "RGBA"
        return np.asarray(im).copy()


def draw(size: int = 64, **changes) -> np.ndarray:
    return pixels(avataaars.render_png({**BASE, **changes}, HIDDEN, size))


def exact(image: np.ndarray, color: str, tolerance: int = 0) -> np.ndarray:
    """Mask of opaque pixels of this colour (each channel within ``tolerance``)."""
    rgb = np.array([int(color[i:i + 2], 16) for i in (1, 3, 5)])
    return (np.abs(image[..., :3].astype(int) - rgb) <= tolerance).all(-1) & (image[..., 3] == 255)


@pytest.fixture(scope="module")
def pack(tmp_path_factory) -> Path:
    # with the progress bar on: it must never change which rows are written
    return render_dataset(tmp_path_factory.mktemp("pack") / "a", workers=1, progress=True, **PACK)


# ---- vocabulary: the public contract -------------------------------------------------------
def test_vocabulary_contract():
    vocab = avataaars.vocabulary()
    components = avataaars.style_definition()["components"]

    def variants(name):
        return list(components[name]["variants"])

    cat = vocab["categorical"]
    assert list(cat) == ["hair", "outfit", "eyes", "eyebrows", "mouth", "accessories", "facial_hair"]
    assert vocab["colors"] == ["hair_color", "outfit_color", "skin_color"]
    assert cat["hair"] == variants("top") + ["none"]
    assert cat["outfit"] == variants("clothes")
    assert cat["eyes"] == variants("eyes")
    assert cat["eyebrows"] == variants("eyebrows")
    assert cat["mouth"] == variants("mouth")
    assert cat["accessories"] == ["none"] + variants("accessories")
    assert cat["facial_hair"] == ["none"] + variants("facialHair")
    assert "bob" in cat["hair"] and "hoodie" in cat["outfit"] and "sunglasses" in cat["accessories"]
    for choices in cat.values():
        assert len(choices) == len(set(choices)) >= 2
    # never labelled: left for the latent code
    assert set(vocab["unlabelled"]) == {"hat_color", "accessories_color", "clothes_graphic"}
    assert not set(vocab["unlabelled"]) & set(cat)
    for name, palette in vocab["palettes"].items():
        assert all(c.startswith("#") and len(c) == 7 for c in palette), name
    assert avataaars.license_text()


def test_pack_files_and_vocabulary_on_disk(pack):
    assert json.loads((pack / VOCABULARY).read_text()) == avataaars.vocabulary()
    assert json.loads((pack / RENDER_CONFIG).read_text()) == {"style": "avataaars", **PACK}
    rows = [json.loads(line) for line in (pack / METADATA).read_text().splitlines()]
    assert [r["file_name"] for r in rows] == [f"{i:06d}.png" for i in range(PACK["n"])]
    names = list(avataaars.vocabulary()["categorical"]) + ["hair_color", "outfit_color", "skin_color",
                                                            "hat_color", "accessories_color", "clothes_graphic"]
    for row in rows:
        assert list(row) == ["file_name"] + names
    assert sorted(p.name for p in pack.glob("*.png")) == [r["file_name"] for r in rows]
    assert not list(pack.glob("*.tmp"))


# ---- determinism and resume ----------------------------------------------------------------
def test_same_arguments_same_bytes_whatever_the_workers(pack, tmp_path):
    other = render_dataset(tmp_path / "b", workers=2, progress=False, **PACK)
    assert files_of(other) == files_of(pack)


def test_resume_redoes_only_missing_images(pack, tmp_path):
    run = tmp_path / "c"
    shutil.copytree(pack, run)
    for name in ("000003.png", "000017.png", "000039.png", METADATA):
        (run / name).unlink()
    (run / "000017.png.tmp").write_bytes(b"half a png")  # an interrupted write
    kept = run / "000005.png"
    before = kept.stat().st_mtime_ns
    render_dataset(run, workers=1, progress=False, **PACK)
    assert kept.stat().st_mtime_ns == before, "a finished image was rendered again"
    assert {k: v for k, v in files_of(run).items() if not k.endswith(".tmp")} == files_of(pack)


@pytest.mark.parametrize("change", [{"size": 64}, {"seed": 12}, {"n": 41}])
def test_refuses_a_folder_rendered_with_other_settings(pack, tmp_path, change):
    run = tmp_path / "d"
    shutil.copytree(pack, run)
    with pytest.raises(TrainError, match="holds a render with other settings"):
        render_dataset(run, workers=1, progress=False, **{**PACK, **change})
    assert files_of(run) == files_of(pack)


# ---- labels are true -----------------------------------------------------------------------
def test_metadata_records_what_was_drawn(pack):
    vocab = avataaars.vocabulary()
    rows = [json.loads(line) for line in (pack / METADATA).read_text().splitlines()]
    for i in (0, 7, 39):
        labels, hidden = draw_labels(PACK["seed"], i, vocab)
        assert rows[i] == {"file_name": f"{i:06d}.png", **labels, **hidden}
        assert (pack / rows[i]["file_name"]).read_bytes() == avataaars.render_png(labels, hidden, PACK["size"])


def test_every_image_is_rgba_with_transparent_corners_and_shows_its_colours(pack):
    rows = [json.loads(line) for line in (pack / METADATA).read_text().splitlines()]
    for row in rows:
        image = pixels((pack / row["file_name"]).read_bytes())
        assert image.shape == (32, 32, 4)
        assert (image[[0, 0, -1, -1], [0, -1, 0, -1], 3] == 0).all(), row["file_name"]
        assert (image[..., 3] == 255).sum() > 200, "an avatar, not an empty canvas"
        # skin and outfit are always visible in the labelled colour (a few levels for edges at 32 px)
        assert exact(image, row["skin_color"], tolerance=4).sum() >= (5 if row["facial_hair"] == "none" else 1), row
        assert exact(image, row["outfit_color"], tolerance=4).sum() >= 5, row


def test_sunglasses_change_only_the_eye_region():
    plain, shades = draw(accessories="none"), draw(accessories="sunglasses")
    changed = (plain != shades).any(-1)
    ys, xs = np.nonzero(changed)
    assert changed.sum() > 100
    # 64 px avataaars: the eyes sit around rows 20-31, columns 16-47
    assert 16 <= ys.min() and ys.max() <= 34 and 12 <= xs.min() and xs.max() <= 51
    eyes = draw(eyes="happy")
    eye_rows = np.nonzero((plain != eyes).any(-1))[0]
    assert ys.min() <= eye_rows.min() and eye_rows.max() <= ys.max(), "the glasses cover the eyes"


def test_hair_colour_paints_the_hair():
    red, blue = draw(hair_color="#ff0000"), draw(hair_color="#0000ff")
    hair = exact(red, "#ff0000")
    assert hair.sum() > 300
    assert np.nonzero(hair)[0].mean() < 32, "hair pixels are in the upper half"
    assert (exact(blue, "#0000ff") == hair).all(), "the same pixels take the new colour"
    assert not exact(draw(hair="none"), "#ff0000").any(), "no hair, no hair colour"
    # facial hair takes the hair colour too, from the nose down
    beard = exact(draw(facial_hair="beardMedium"), "#ff0000") & ~hair
    assert beard.sum() > 50 and np.nonzero(beard)[0].min() > 24


def test_outfit_and_skin_colours_land_where_they_belong():
    image = draw()
    outfit, skin = exact(image, "#00ff00"), exact(image, "#edb98a")
    assert outfit.sum() > 200 and np.nonzero(outfit)[0].min() > 40, "the outfit is at the bottom"
    assert skin.sum() > 200 and 20 < np.nonzero(skin)[0].mean() < 50, "the face is in the middle"
    assert not exact(draw(outfit_color="#0000ff"), "#00ff00").any()


# ---- CLI -----------------------------------------------------------------------------------
@pytest.mark.server
def test_cli_help_and_bad_arguments(tmp_path):
    out = subprocess.run([sys.executable, "-m", "train.render_dataset", "--help"], cwd=ROOT,
                         capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert "python -m train.render_dataset --out" in out.stdout and "--workers" in out.stdout

    from train.render_dataset import main
    with pytest.raises(SystemExit) as e:
        main(["--out", str(tmp_path / "x"), "--n", "0"])
    assert e.value.code == 2
    assert not (tmp_path / "x").exists()

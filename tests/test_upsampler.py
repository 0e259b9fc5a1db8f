"""The export upsampler: fast path = whole-image maths, training stage, strict files, studio exports."""
from __future__ import annotations

import dataclasses
import io
import json
import shutil

import numpy as np
import pytest
import torch
from PIL import Image

from pathlib import Path

from avatar_studio import AvatarStudio
from avatar_studio.recipe import Design
from avatar_studio.weights import WeightsError, write_checksums
from avatar_studio.upsampler import (UPSAMPLER_CONFIG, UPSAMPLER_WEIGHTS, Upsampler, UpsamplerConfig, _paint_at,
                                     load_upsampler, save_upsampler, upsample_logits)

ROOT = Path(__file__).resolve().parent.parent


def premultiplied_8bit(rgba: torch.Tensor) -> torch.Tensor:
    return (torch.cat([rgba[:, :3] * rgba[:, 3:], rgba[:, 3:]], dim=1) * 255).round()


@pytest.fixture(scope="module")
def logits(studio):
    """The tiny generator's (mix, palette, alpha) of three avatars."""
    with torch.inference_mode():
        return [studio.generator.palette_synthesis(studio._w([studio.check_design(Design(seed, {}, 1.0, {}))])[0][1])
                for seed in (0, 1, 2)]


@pytest.fixture(scope="module")
def head(studio):
    torch.manual_seed(0)
    model = Upsampler(UpsamplerConfig(generator=studio.model_id, n_mix=studio.generator.n_mix, width=8, layers=2))
    with torch.no_grad():
        model.out.weight.normal_(0, 0.3)  # a head that moves edges, as a trained one does
        model.log_sharpness.copy_(torch.tensor([0.4, 0.6]))
    return model.eval()


@pytest.mark.parametrize("factor", [2, 4, 8])
def test_sparse_painting_equals_the_whole_image_maths(studio, head, logits, factor):
    """The fast path (softmax near edges only) gives the training maths' pixels, to 8 bits."""
    size = studio.resolution * factor
    with torch.inference_mode():
        for mix, palette, alpha in logits:
            fast = premultiplied_8bit(head(mix, palette, alpha, size))
            slow = premultiplied_8bit(head.paint_logits(*head.logits(mix, palette, alpha), palette, size))
            assert fast.shape == (1, 4, size, size)
            assert (fast - slow).abs().max() <= 1 and (fast != slow).float().mean() < 1e-3
            plain = premultiplied_8bit(upsample_logits(mix, palette, alpha, size))
            dense = premultiplied_8bit(_paint_at(mix, palette, alpha, size))
            assert (plain - dense).abs().max() <= 1


def test_export_sizes_must_be_whole_multiples(studio, head, logits):
    mix, palette, alpha = logits[0]
    with pytest.raises(ValueError, match="whole"):
        head(mix, palette, alpha, studio.resolution * 4 + 3)


@pytest.fixture(scope="module")
def pair_folders(tmp_path_factory):
    """The tiny data's first avatars rendered at 4x and 8x the tiny model's 32 px (the later one shorter)."""
    from tests.conftest import TINY_SIZE
    from train.render_dataset import render_dataset
    root = tmp_path_factory.mktemp("pairs")
    return [render_dataset(root / "x4", n=6, size=TINY_SIZE * 4, seed=3, workers=1, progress=False),
            render_dataset(root / "x8", n=3, size=TINY_SIZE * 8, seed=3, workers=1, progress=False)]


@pytest.fixture(scope="module")
def trained(pair_folders, tiny_weights, tmp_path_factory):
    """A tiny upsampler trained a few steps, exported into a copy of the tiny weights."""
    from train.upsample import UpsampleConfig, export_upsampler, train_upsampler
    cfg = UpsampleConfig(steps=6, batch=4, crops=2, crop=8, margin=3, width=8, layers=2, checkpoint_every=3,
                         log_every=2)
    run = train_upsampler(pair_folders, tiny_weights, tmp_path_factory.mktemp("uprun") / "up", cfg, progress=False)
    weights = tmp_path_factory.mktemp("upweights") / "tiny"
    shutil.copytree(tiny_weights, weights)
    export_upsampler(run, weights)
    return run, weights, cfg


def test_training_logs_and_refuses_to_mix_runs(trained, pair_folders, tiny_weights):
    from train.upsample import train_upsampler
    run, _, cfg = trained
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows] == [2, 4, 6] and all(np.isfinite(r["loss"]) for r in rows)
    with pytest.raises(SystemExit, match="--resume"):
        train_upsampler(pair_folders, tiny_weights, run, cfg, progress=False)
    with pytest.raises(SystemExit, match="other settings"):
        train_upsampler(pair_folders, tiny_weights, run, dataclasses.replace(cfg, lr=1.0), resume=True, progress=False)


def test_resume_continues_from_the_checkpoint(pair_folders, tiny_weights, tmp_path):
    from train import checkpoint
    from train.upsample import UpsampleConfig, train_upsampler
    cfg = UpsampleConfig(steps=4, batch=2, crops=1, crop=8, margin=3, width=4, layers=1, checkpoint_every=2)
    train_upsampler(pair_folders[:1], tiny_weights, tmp_path / "r", cfg, progress=False)
    state = checkpoint.load_latest(tmp_path / "r")
    assert state["step"] == 4
    (tmp_path / "r" / "checkpoint-0000004.pt").unlink()  # as if killed after step 2
    train_upsampler(pair_folders[:1], tiny_weights, tmp_path / "r", cfg, resume=True, progress=False)
    resumed = checkpoint.load_latest(tmp_path / "r")
    assert resumed["step"] == 4
    for k, v in state["model"].items():  # the same data order and maths: the same weights
        assert torch.allclose(v, resumed["model"][k], atol=1e-6), k


def test_warm_start_from_a_weights_folder_with_the_gmsd_term(trained, pair_folders, tiny_weights, tmp_path):
    """--init_from a weights folder starts from its shipped head (strict, checksummed); another head is refused."""
    from train import checkpoint
    from train.upsample import train_upsampler
    _, weights, cfg = trained
    shipped = load_upsampler(weights, AvatarStudio.from_pretrained(weights, device="cpu").model_id,
                             AvatarStudio.from_pretrained(weights, device="cpu").generator.n_mix)
    warm = dataclasses.replace(cfg, steps=1, lr=0.0, gms=0.5, init_from=str(weights))
    train_upsampler(pair_folders, tiny_weights, tmp_path / "w", warm, progress=False)
    state = checkpoint.load_latest(tmp_path / "w")
    for k, v in shipped.state_dict().items():  # lr 0: still the shipped head
        assert torch.equal(v, state["model"][k]), k
    row = json.loads((tmp_path / "w" / "metrics.jsonl").read_text().splitlines()[-1])
    assert 0 < row["gms"] < 1 and np.isclose(row["loss"], row["l1"] + cfg.grad * row["grad"] + 0.5 * row["gms"])
    with pytest.raises(SystemExit, match="another head"):
        train_upsampler(pair_folders, tiny_weights, tmp_path / "w2", dataclasses.replace(warm, width=4), progress=False)


def test_exported_upsampler_reloads_strictly_and_exports_the_same_bytes(trained, tiny_weights):
    _, weights, _ = trained
    assert (weights / UPSAMPLER_CONFIG).is_file() and (weights / UPSAMPLER_WEIGHTS).is_file()
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    again = AvatarStudio.from_pretrained(weights, device="cpu")
    plain = AvatarStudio.from_pretrained(tiny_weights, device="cpu")
    assert studio.upsampler is not None and plain.upsampler is None
    recipe = {"seed": 5, "spec": {"hair": "bob"}, "size": 256, "frame": "circle", "background": "#336699"}
    png = studio.render_png(recipe)
    assert png == studio.render_png(recipe) == again.render_png(recipe)
    assert png != plain.render_png(recipe)  # the learned head draws, not plain logit upsampling
    image = Image.open(io.BytesIO(png))
    assert image.size == (256, 256) and image.mode == "RGBA"


def test_png_writer_keeps_every_pixel_and_names_the_modes_it_writes():
    from avatar_studio.imaging import png_bytes
    rng = np.random.default_rng(0)
    noise = rng.integers(0, 256, (37, 53, 4), dtype=np.uint8)  # wraps modulo 256 in the Sub filter
    noise[5:20, 10:40] = (12, 200, 7, 255)                     # and a flat run, as in the avatars
    for mode in ("RGBA", "RGB", "LA", "L"):
        image = Image.fromarray(noise, "RGBA").convert(mode)
        png = png_bytes(image)
        back = Image.open(io.BytesIO(png))
        back.load()  # decodes every row: a wrong filter byte or a broken stream raises here
        assert back.mode == mode and back.size == (53, 37) and back.tobytes() == image.tobytes()
        assert png == png_bytes(image.copy())
    with pytest.raises(ValueError, match="cannot write a P image as PNG; modes: L, RGB, LA, RGBA"):
        png_bytes(Image.new("P", (4, 4)))


def test_upsampler_files_are_checked(trained, tmp_path):
    _, weights, _ = trained
    model_id = AvatarStudio.from_pretrained(weights, device="cpu").model_id
    bad = tmp_path / "bad"
    shutil.copytree(weights, bad)
    data = bytearray((bad / UPSAMPLER_WEIGHTS).read_bytes())
    data[-1] ^= 1
    (bad / UPSAMPLER_WEIGHTS).write_bytes(bytes(data))
    with pytest.raises(WeightsError, match="damaged"):
        AvatarStudio.from_pretrained(bad, device="cpu")
    other = tmp_path / "other"
    shutil.copytree(weights, other)
    config = json.loads((other / UPSAMPLER_CONFIG).read_text())
    (other / UPSAMPLER_CONFIG).write_text(json.dumps({**config, "generator": "someone-else@1"}))
    write_checksums(other)
    with pytest.raises(WeightsError, match="retrain"):
        AvatarStudio.from_pretrained(other, device="cpu")
    wrong = tmp_path / "wrong"
    shutil.copytree(weights, wrong)
    (wrong / UPSAMPLER_CONFIG).write_text(json.dumps({**config, "width": config["width"] + 1}))
    write_checksums(wrong)
    with pytest.raises(WeightsError, match="does not fit"):
        load_upsampler(wrong, model_id, config["n_mix"])


def test_an_upsampler_alone_is_not_a_weights_folder(studio, head, tmp_path):
    save_upsampler(head, tmp_path)
    with pytest.raises(WeightsError, match="config.json"):  # the generator's entries are missing
        load_upsampler(tmp_path, studio.model_id, studio.generator.n_mix)


def test_svg_export_is_vector_paths(trained):
    _, weights, _ = trained
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    svg = studio.render_svg({"seed": 1, "spec": {}, "size": 256})
    assert svg.lstrip().startswith("<?xml") and "<path" in svg and "<image" not in svg
    assert svg == studio.render_svg({"seed": 1, "spec": {}, "size": 256})


def test_sticker_pack_and_morph_use_the_upsampler(trained):
    import zipfile
    _, weights, _ = trained
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    recipe = {"seed": 2, "spec": {}, "size": 256}
    with zipfile.ZipFile(io.BytesIO(studio.sticker_pack(recipe))) as zf:
        names = zf.namelist()
        first = Image.open(io.BytesIO(zf.read(names[0])))
    assert first.size == (256, 256)
    expression = studio.expressions[names[0][:-4].replace("-", " ")]
    full = studio.full_recipe(recipe)
    want = studio.render_png({**full.to_dict(), "spec": {**full.spec, **expression}})
    assert np.array_equal(np.asarray(first), np.asarray(Image.open(io.BytesIO(want))))
    gif = Image.open(io.BytesIO(studio.morph(recipe, {**recipe, "seed": 3}, frames=2)))
    assert gif.size == (256, 256)


def test_upsample_cli_help_has_an_example():
    import subprocess
    import sys
    out = subprocess.run([sys.executable, "-m", "train.upsample", "--help"], capture_output=True, text=True,
                         check=True).stdout
    assert "Example" in out and "--resume" in out and "--export" in out


@pytest.mark.slow
def test_shipped_128_px_exports_are_the_generators_own_pixels(shipped_studio):
    """At the native size nothing is upsampled: the export is design()'s picture (the golden images)
    finished as before the upsampler."""
    from avatar_studio.imaging import finish
    assert shipped_studio.upsampler is not None
    recipe = {"seed": 42, "spec": {"hair": "bob"}, "size": 128, "frame": "circle"}
    got = np.asarray(Image.open(io.BytesIO(shipped_studio.render_png(recipe))))
    want = finish(shipped_studio.design(recipe["spec"], recipe["seed"]), shipped_studio.check_recipe(recipe).export)
    assert np.array_equal(got, np.asarray(want))


def test_cli_writes_svg(trained, tmp_path):
    from avatar_studio.cli import main
    _, weights, _ = trained
    recipe = tmp_path / "r.json"
    recipe.write_text(json.dumps({"seed": 4, "spec": {}, "size": 256}))
    main(["design", "--recipe", str(recipe), "--out", str(tmp_path / "a.svg"), "--weights", str(weights)])
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    assert (tmp_path / "a.svg").read_text() == studio.render_svg(json.loads(recipe.read_text()))


def test_a_styles_export_reference_draws_the_hidden_parts_its_seed_paints():
    """train.evaluate_export on another style (the shipped adventurer): every label drawn, and as hidden
    parts (birthmark, blush, freckles, earrings) the ones the seed's style codes pick, so DiceBear's render
    is what the generator paints. Rendered with other hidden parts, the same labels match worse."""
    from train import evaluate_export as ee
    studio = AvatarStudio.from_pretrained(ROOT / "weights" / "adventurer", device="cpu")
    cases = ee.style_cases(studio, "adventurer", 24, 2026)
    assert all(set(hidden) == {"details", "earrings"} for _, hidden, _ in cases)
    assert len({json.dumps(h, sort_keys=True) for _, h, _ in cases}) > 3     # the seeds pick several
    ours = [ee.on_grey(studio.design({"style": "adventurer", **labels}, seed)) for labels, _, seed in cases]
    right = [ee.psnr(x, ee.on_grey(ee.dicebear(l, h, 128, "adventurer"))) for x, (l, h, _) in zip(ours, cases)]
    others = [cases[(i + 1) % len(cases)][1] for i in range(len(cases))]     # another case's hidden parts
    wrong = [ee.psnr(x, ee.on_grey(ee.dicebear(l, h, 128, "adventurer"))) for x, (l, _, _), h in zip(ours, cases, others)]
    differ = [i for i, (_, h, _) in enumerate(cases) if h != others[i]]
    assert differ and np.mean([right[i] for i in differ]) > np.mean([wrong[i] for i in differ]) + 1.0  # 34.4 vs 32.2 dB seen


def test_a_style_with_every_part_labelled_trains_with_codes_read_off_its_renders(two_styles, tmp_path):
    """big-smile records no unlabelled choices (every part is a control) and was trained with codes from an
    encoder that is not shipped: train.upsample reads each row's codes off its render (coordinate descent),
    never worse than the start (all zeros), and trains. A folder whose vocabulary names unlabelled parts
    but whose rows lack them is still refused."""
    from tests.conftest import TINY_SIZE
    from train.dataset import read_metadata
    from train.render_dataset import render_dataset
    from train.upsample import UpsampleConfig, composite, fit_codes, train_upsampler
    from avatar_studio.generator import paint
    from avatar_studio.weights import load_generator
    weights = two_styles.parent / "big-smile"
    folder = render_dataset(tmp_path / "x4", n=4, size=TINY_SIZE * 4, seed=5, workers=1, progress=False, style="big-smile")
    _, rows = read_metadata(folder)
    g = load_generator(weights)
    codes = fit_codes(g, rows, folder)
    assert codes.shape == (4, g.config.n_codes) and codes.dtype == torch.long

    def error(i: int, c: torch.Tensor) -> float:
        index, rgb = g.config.vocab.encode([rows[i]])
        with torch.inference_mode():
            picture = composite(paint(*g.palette_synthesis(g.mapping_codes(
                torch.nn.functional.one_hot(c[None], g.config.code_classes).float(), index, rgb))))
        with Image.open(folder / rows[i]["file_name"]) as im:
            small = im.convert("RGBA").resize((TINY_SIZE, TINY_SIZE), Image.BOX)
        target = composite(torch.from_numpy(np.asarray(small, dtype=np.float32) / 255).permute(2, 0, 1)[None])
        return float((picture - target).abs().mean())
    assert all(error(i, codes[i]) <= error(i, torch.zeros_like(codes[i])) + 1e-7 for i in range(4))
    cfg = UpsampleConfig(steps=2, batch=2, crops=1, crop=8, margin=3, width=8, layers=2, log_every=1)
    run = train_upsampler([folder], weights, tmp_path / "up", cfg, progress=False)
    assert (run / "metrics.jsonl").read_text().count("\n") == 2
    vocabulary = json.loads((folder / "vocabulary.json").read_text())
    (folder / "vocabulary.json").write_text(json.dumps({**vocabulary, "unlabelled": {"hat": ["a", "b"]}}))
    with pytest.raises(SystemExit, match="does not record the unlabelled choices"):
        train_upsampler([folder], weights, tmp_path / "up2", cfg, progress=False)

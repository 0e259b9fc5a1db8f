"""Evaluate the 512 / 1024 px exports against DiceBear's own render at that size.

Example:
    python -m train.evaluate_export --weights weights/avatar-studio --n 64 \\
        --out weights/avatar-studio/export_evaluation.json --card weights/avatar-studio/README.md
    python -m train.evaluate_export --weights weights/avatar-studio --figure assets/crisp-1024.png

The avatars are fully specified and every visible part is labelled (no hats, no shirt graphic, no
glasses: the parts the latent code would pick are then invisible), so the vector art's render is
the exact reference. Every image is composited on mid-grey; PSNR on RGB, GMSD (gradient magnitude
similarity deviation, Xue et al. 2014: luma, 2x2 mean and 2x down, Prewitt, c = 170; 0 = same
edges) on luma. Methods:

    ours      AvatarStudio.render at the size (the learned upsampler)
    logits    the same without the learned head: plain logit upsampling
    old       design() at 128 px, Lanczos + unsharp mask (the export before the upsampler)
    baseline  DiceBear's own 128 px render, Lanczos-upscaled (the bar: ours GMSD <= 0.4x, PSNR above)
    svg       ours traced to SVG (AvatarStudio.render_svg), rasterised back by resvg at the size

The avatars come from ``train.render_dataset.draw_labels`` with --seed (not a training seed).
"""
from __future__ import annotations

import argparse
import io
import json
from pathlib import Path

import train  # noqa: F401
import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageFilter
from tqdm import tqdm

from avatar_studio import AvatarStudio
from avatar_studio.imaging import upscale
from train import avataaars, losses, styles
from train.render_dataset import draw_labels

HATS = ("hat", "hijab", "turban", "winterHat")
SIZES = (512, 1024)
GMSD_BAR = 0.4
SECTION = "## Export upsampler"


def exact(labels: dict) -> bool:
    """Whether every visible part of the avatar is labelled (the render is then the exact reference)."""
    return (not labels["hair"].startswith(HATS) and labels["outfit"] != "graphicShirt"
            and labels["accessories"] == "none")


def eval_labels(n: int, seed: int) -> list[tuple[dict, dict]]:
    vocab, out, i = avataaars.vocabulary(), [], 0
    while len(out) < n:
        labels, hidden = draw_labels(seed, i, vocab)
        i += 1
        if exact(labels):
            out.append((labels, hidden))
    return out


def style_cases(studio: AvatarStudio, style: str, n: int, seed: int) -> list[tuple[dict, dict, int]]:
    """(labels, hidden, seed) of another style: every label drawn, and as hidden choices the ones the seed's
    style codes paint (its generator, trained with codes from the data, draws exactly those), so DiceBear's
    render of (labels, hidden) is the exact reference whatever the hidden parts are."""
    model, vocab, out = studio.model(style), styles.vocabulary(style), []
    unlabelled = vocab["unlabelled"]
    for i in range(n):
        labels, _ = draw_labels(seed, i, vocab)
        codes = model.generator.codes_from_z(studio.latent(i, style)[None]).argmax(-1)[0].tolist()
        out.append((labels, {name: choices[c] for (name, choices), c in zip(unlabelled.items(), codes)}, i))
    return out


def on_grey(image: Image.Image) -> np.ndarray:
    canvas = Image.new("RGBA", image.size, (128, 128, 128, 255))
    canvas.alpha_composite(image.convert("RGBA"))
    return np.asarray(canvas.convert("RGB"), dtype=np.float64)


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255.0 ** 2 / max(((a - b) ** 2).mean(), 1e-10)))


def gmsd(a: np.ndarray, b: np.ndarray) -> float:
    """GMSD of two RGB arrays (H, W, 3) in 0..255 (``train.losses.gmsd``, the upsampler's loss term)."""
    def batch(x: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(x / 255).permute(2, 0, 1)[None]
    return float(losses.gmsd(batch(a), batch(b))[0])


def old_export(image: Image.Image, size: int) -> Image.Image:
    """The export before the upsampler: premultiplied Lanczos, then an unsharp mask (as it shipped)."""
    out = upscale(image, size)
    rgb = out.convert("RGB").filter(ImageFilter.UnsharpMask(radius=size / image.size[0] * 0.6, percent=60,
                                                            threshold=2))
    return Image.merge("RGBA", (*rgb.split(), out.getchannel("A")))


def dicebear(labels: dict, hidden: dict, size: int, style: str = "avataaars") -> Image.Image:
    return Image.open(io.BytesIO(styles.render_png(style, labels, hidden, size))).convert("RGBA")


def rasterise_svg(svg: str, size: int) -> Image.Image:
    import resvg_py
    return Image.open(io.BytesIO(bytes(resvg_py.svg_to_bytes(svg_string=svg, width=size, height=size)))).convert("RGBA")


def evaluate(weights: Path, n: int, seed: int, svg: int = 8, progress: bool = True) -> dict:
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    if studio.upsampler is None:
        raise SystemExit(f"{weights} has no upsampler (upsampler.json): train one with python -m train.upsample")
    plain = AvatarStudio(studio.generator, studio.directions, upsampler=None)
    style = studio.vocab.to_dict().get("style", "avataaars")
    cases = ([(labels, hidden, k) for k, (labels, hidden) in enumerate(eval_labels(n, seed))]
             if style == "avataaars" else style_cases(studio, style, n, seed))
    scores: dict = {size: {m: [] for m in ("ours", "logits", "old", "baseline")} for size in SIZES}
    svg_scores: dict = {size: [] for size in SIZES}
    for k, (labels, hidden, z_seed) in enumerate(tqdm(cases, desc="evaluate", unit="avatar", disable=not progress)):
        spec = labels if style == "avataaars" else {"style": style, **labels}
        recipe = {"seed": z_seed, "spec": spec}
        small = studio.design(spec, z_seed)
        low = dicebear(labels, hidden, 128, style)
        for size in SIZES:
            ref = on_grey(dicebear(labels, hidden, size, style))
            ours = studio.render({**recipe, "size": size})
            images = {"ours": ours, "logits": plain.render({**recipe, "size": size}),
                      "old": old_export(small, size), "baseline": upscale(low, size)}
            for method, image in images.items():
                x = on_grey(image)
                scores[size][method].append((psnr(x, ref), gmsd(x, ref)))
            if k < svg:
                text = studio.render_svg({**recipe, "size": size})
                back = on_grey(rasterise_svg(text, size))
                svg_scores[size].append((psnr(back, on_grey(ours)), psnr(back, ref), gmsd(back, ref), len(text)))
    report: dict = {"weights": str(weights), "model": studio.model_id, "upsampler": dict(vars(studio.upsampler.config)),
                    "style": style, "n": n, "seed": seed, "background": "mid-grey #808080", "sizes": {}}
    for size in SIZES:
        row = {m: {"psnr": round(float(np.mean([s[0] for s in v])), 3),
                   "gmsd": round(float(np.mean([s[1] for s in v])), 4)} for m, v in scores[size].items()}
        base = row["baseline"]
        for m in row:
            row[m]["gmsd_vs_baseline"] = round(row[m]["gmsd"] / base["gmsd"], 3)
        row["bar"] = {"gmsd_at_most": round(GMSD_BAR * base["gmsd"], 4), "psnr_above": base["psnr"],
                      "met": row["ours"]["gmsd"] <= GMSD_BAR * base["gmsd"] and row["ours"]["psnr"] > base["psnr"]}
        s = svg_scores[size]
        if s:
            row["svg"] = {"n": len(s), "psnr_vs_png": round(float(np.mean([x[0] for x in s])), 3),
                          "psnr_vs_reference": round(float(np.mean([x[1] for x in s])), 3),
                          "gmsd_vs_reference": round(float(np.mean([x[2] for x in s])), 4),
                          "kib": round(float(np.mean([x[3] for x in s])) / 1024, 1)}
        report["sizes"][str(size)] = row
    return report


def write_card_section(card: Path, report: dict, extra: str = "") -> None:
    """Replace (or append) the model card's export-upsampler section with these figures."""
    text = card.read_text() if card.exists() else ""
    lines = [SECTION, "",
             "Exports above 128 px come from the generator's palette logits through a small learned head",
             "(`avatar_studio/upsampler.py`, trained by `python -m train.upsample`), not from an enlarged",
             "128 px picture. `python -m train.evaluate_export` against DiceBear's own render at the size",
             f"({report['n']} exact avatars: " + ("no hats, shirt graphic or glasses" if report.get("style", "avataaars")
                                                   == "avataaars" else "every part labelled, and the hidden parts the "
                                                   "ones the seed's style codes paint") + "; on mid-grey):", "",
             "| size | method | PSNR dB | GMSD | GMSD / baseline |", "|---|---|---|---|---|"]
    for size, row in report["sizes"].items():
        for m in ("ours", "logits", "old", "baseline"):
            lines.append(f"| {size} | {m} | {row[m]['psnr']} | {row[m]['gmsd']} | {row[m]['gmsd_vs_baseline']} |")
    lines += ["", "ours = the learned upsampler; logits = plain logit upsampling (no head); old = 128 px",
              "Lanczos + unsharp mask (before); baseline = DiceBear's 128 px render, Lanczos-upscaled.", ""]
    for size, row in report["sizes"].items():
        if "svg" in row:
            s = row["svg"]
            lines.append(f"- SVG at {size} px (vtracer, {s['n']} avatars): {s['kib']} KiB, rasterised back "
                         f"PSNR {s['psnr_vs_png']} dB against the PNG, {s['psnr_vs_reference']} dB against DiceBear.")
    lines += ["", extra.strip(), ""] if extra.strip() else [""]
    section = "\n".join(lines)
    if SECTION in text:
        head, _, rest = text.partition(SECTION)
        tail = rest[rest.find("\n## "):] if "\n## " in rest else ""
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section
    card.write_text(text)


def training_note(run: Path) -> str:
    """One paragraph on how the upsampler of ``run`` was trained (from its config and metrics)."""
    cfg = json.loads((run / "upsample_config.json").read_text())
    rows = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines() if line.strip()]
    last = rows[-1]
    data = ", ".join(f"{n} avatars from `{folder}`" for folder, n in cfg.get("data", {}).items())
    warm = f", warm-started from `{cfg['init_from']}`" if cfg.get("init_from") else ""
    return (f"Training (`{run}`{': ' + data if data else ''}{warm}): {last['step']} steps of {cfg['batch']} crops ({cfg['crop']} px native windows, "
            f"{cfg['crops']} per avatar) in {last['minutes']:.0f} min on one CPU thread; head {cfg['layers']} x "
            f"{cfg['width']} channels, x{cfg['factor']} pixel shuffle; lr {cfg['lr']}; loss L1 on mid-grey + {cfg['grad']} x "
            f"gradient L1{f' + {gms} x GMSD per crop' if (gms := cfg.get('gms', 0.0)) else ''}; learned sharpness {last['sharpness'][0]:.2f} (x{cfg['factor']}), "
            f"{last['sharpness'][1]:.2f} (beyond).")


def crisp_figure(weights: Path, path: Path, seed: int, crop: int = 400) -> None:
    """Before / after / DiceBear: 100% crops of the 1024 px exports of a bearded avatar, side by side."""
    from PIL import ImageDraw
    studio = AvatarStudio.from_pretrained(weights, device="cpu")
    natural = avataaars.vocabulary()["palettes"]["hair_color"]
    labels, hidden = next((l, h) for l, h in eval_labels(400, seed) if l["facial_hair"].startswith("beard")
                          and l["hair_color"] in natural and l["eyes"] == "default"
                          and l["mouth"] in ("smile", "default", "twinkle"))
    size, paper = 1024, (246, 243, 238, 255)
    images = [("before: 128 px, Lanczos + unsharp mask", old_export(studio.design(labels, 0), size)),
              ("after: learned upsampler", studio.render({"seed": 0, "spec": labels, "size": size})),
              ("DiceBear's vector render", dicebear(labels, hidden, size))]
    box = (size // 2 - crop // 2, int(size * 0.36), size // 2 + crop // 2, int(size * 0.36) + crop)
    pad, head = 12, 28
    out = Image.new("RGBA", (len(images) * (crop + pad) + pad, crop + head + pad), paper)
    draw = ImageDraw.Draw(out)
    for i, (title, image) in enumerate(images):
        tile = Image.new("RGBA", (crop, crop), paper)
        tile.alpha_composite(image.crop(box))
        x = pad + i * (crop + pad)
        out.alpha_composite(tile, (x, head))
        draw.text((x, 8), title, fill=(40, 40, 40, 255))
    path.parent.mkdir(parents=True, exist_ok=True)
    out.convert("RGB").save(path)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.evaluate_export", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--weights", type=Path, default=Path("weights/avatar-studio"))
    parser.add_argument("--n", type=int, default=64, help="avatars (default 64)")
    parser.add_argument("--seed", type=int, default=2026, help="label seed (default 2026; training used 11)")
    parser.add_argument("--svg", type=int, default=8, help="avatars also traced to SVG (default 8)")
    parser.add_argument("--out", type=Path, default=None, help="write the JSON here too")
    parser.add_argument("--card", type=Path, default=None, help="where the section goes: train/upsampler.md for the main model "
                        "(write_model_card puts that file in its card), or a card's README.md")
    parser.add_argument("--run", type=Path, default=None, help="the upsampler's training run (for the card)")
    parser.add_argument("--figure", type=Path, default=None,
                        help="only draw the README crop (before / after / DiceBear at 1024 px) to this PNG")
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    if args.figure:
        crisp_figure(args.weights, args.figure, args.seed)
        print(f"wrote {args.figure}")
        return
    report = evaluate(args.weights, args.n, args.seed, args.svg)
    text = json.dumps(report, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")
    if args.card:
        write_card_section(args.card, report, training_note(args.run) if args.run else "")


if __name__ == "__main__":
    main()

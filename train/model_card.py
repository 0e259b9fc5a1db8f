"""The model card (README.md) of a weights folder, from its config, training and evaluation files."""
from __future__ import annotations

import json
from pathlib import Path

from train import styles

CARD = """---
{license_meta}
library_name: pytorch
tags: [avatar, conditional-generator, gradio]
---
# {name}@{version}

Conditional avatar generator of [Avatar Studio](../../README.md): labels + seed -> {res}x{res} RGBA.

## Data
Rendered locally from the DiceBear "{style}" style (dicebear-core + dicebear-styles, rasterised with
resvg-py) by `python -m train.render_dataset`. Artwork: {license}

## Method
The generator is the decoder of a conditional auto-encoder. Every training image comes with its full
label set, so instead of an adversarial game the generator learns a *paired* reconstruction: labels +
discrete style codes -> image, L1 on premultiplied RGBA at three scales, with extra weight on edges so
that small parts (eyes, mouth, glasses) get their share. {codes} At export a bank of {bank} code tuples of
training images is stored, and a seed picks one of them, so every sampled combination is a real one.
The output head paints each pixel as a
softmax mix of a small palette (the {n_colors} condition colours, {free} colours predicted from w, {const}
learned constants: ink, paper and spares) plus alpha, which gives exact colours and flat shading.
{palette}{critic}{templates} "any" attributes are chosen by fixed slices of
the latent vector z (uniformly, like the data), not by condition dropout: a dropped condition would
have to be invented by a blurry average, while a choice made from z is always a real one.
Why: on a 2-core CPU this reaches label-exact results far sooner than a GAN (no discriminator to pay
for, no instability); the price is that nothing beyond the data's own variety is invented.

## Training
```
{command}
```
{training}

## Evaluation
`python -m train.evaluate --weights {folder} --data DIR` (classifier of ours trained on real renders;
the real-render figures are the ceiling):
```
{evaluation}
```
"""


CODES = {
    "data": (
        "The style codes carry what the labels don't say: hat colour, accessory colour and shirt graphic. The "
        "renderer records those draws for every image, so style code i *is* unlabelled choice i (3 codes x 16 "
        "classes, supervised): each class paints one exact colour or graphic. The earlier stages read the codes "
        "off the image with a small encoder instead (straight-through Gumbel plus a balance term); 48 unsupervised "
        "classes could not hold 15 x 15 x 10 combinations, so accessory colours and shirt graphics came out "
        "averaged and speckled."),
    "style data": (
        "The style codes carry what the labels don't say ({parts}). The renderer records those draws for every "
        "image, so style code i *is* unlabelled choice i ({n} codes x {k} classes, supervised): each class paints "
        "one exact colour or part."),
    "style encoder": (
        "A small encoder reads the style codes (straight-through Gumbel) off the image; they carry whatever "
        "varies beyond the labels, and a balance term keeps every class in use."),
    "encoder": (
        "A small encoder reads the style codes (straight-through Gumbel) off the image; they carry what the "
        "labels don't say (hat colour, accessory colour, shirt graphic), and a balance term keeps every class "
        "in use. Discrete codes keep those parts flat rather than averaged."),
}


PALETTE = (
    "A cross-entropy term teaches each opaque pixel that is painted wrong (RGB off by more than 0.3) to "
    "pick the palette colour nearest its real colour; edge blends are left out. Without it, pixels whose "
    "softmax settled on skin early in training never turned red or blue: the semi-transparent hearts and "
    "tears of two eye styles. L1's gradient vanishes through a saturated softmax, and 300 steps with this "
    "term made those hearts red. A first version that counted every pixel fought L1 over shading blends "
    "and turned the ink brown; counting only wrong pixels does not.")


CRITIC = (
    " Stages trained with `--critic` add a frozen *critic*: a second attribute classifier trained on real "
    "renders (`python -m train.classifier --data {data} --out {critic} --seed 1 --n-train 40000 "
    "--epochs 2`: the judge's design, another seed, all 40,000 training rows). The L1 between its features of the generated and the paired real image (weight {perceptual}) and "
    "its cross-entropy against the labels (weight {classify}) weigh what pixel L1 forgives: eyes seen through "
    "dark glasses and the pale tear of \"cry\" are a few low-contrast pixels, and pixel L1 left them out. "
    "The classifier that `train.evaluate` judges with (`{judge}`, seed 0, first 20,000 rows) is never "
    "seen by training; it is the same design, though, so its figures may flatter the critic's gains.")


TEMPLATES = (
    " Part templates: every attribute class has its own {t}-channel map at {r}x{r}, added through a 1x1 conv "
    "to the features of that size: a short path from a class to where its part sits. Runs trained before "
    "avatar-studio@4 learned these maps as one linear map of the raw attribute embeddings; `train.export` "
    "folds that into per-class maps (the same function), so a batch-1 avatar reads one map per attribute, "
    "not a 1.8 M-weight matrix.")


MAIN = "avatar-studio"  # the avataaars model: its hand-written upsampler story and version history are its own

STYLE_UPSAMPLERS = Path(__file__).with_name("styles") / "upsamplers"   # <style>.md: a style's export upsampler story

NO_UPSAMPLER = """
## Export upsampler

None yet for this style: exports above {res} px upsample the generator's palette logits (no learned
head). At 100% a 1024 px export shows a dotted grid in textured and edge regions and misses thin
lines that DiceBear's own render has; the main style's learned upsampler does not. For now the
{res} px design is this style's faithful size.
"""


# a style's earlier stages may have run elsewhere (a lent GPU: scripts.gpu_lease); its stage list's about says where
HARDWARE_SCOPE = {"main": "", "style": " of the last stage (where each stage ran: Reproduce, below)"}


def write_model_card(folder: Path) -> None:
    """README.md of a weights folder, from its own files: the style's name and artwork credit (config's
    vocabulary), training record, evaluation; the main model's hand-written sections (train/upsampler.md,
    train/history.md) only on the main model's card."""
    folder = Path(folder)
    config = json.loads((folder / "config.json").read_text())
    vocabulary = config["vocabulary"]
    style = vocabulary.get("style", "avataaars")
    main = config["name"] == MAIN
    training = json.loads((folder / "training.json").read_text()) if (folder / "training.json").exists() else {}
    evaluation = (folder / "evaluation.json").read_text() if (folder / "evaluation.json").exists() else "(not run yet)"
    credit = vocabulary.get("credit") or {}
    license = credit.get("text") or f"see the {style} style's meta.license"
    license_meta = ("license: cc-by-4.0" if credit.get("license") == "CC BY 4.0" else
                    "license: other\nlicense_name: " + "-".join(f"{style} {credit.get('license', 'see meta.license')}"
                                                              .lower().replace(",", "").split()))
    tc = flat_train_config(training.get("train_config", {}))
    command = _train_command(tc)
    metrics = training.get("last_metrics", {})
    unlabelled = vocabulary.get("unlabelled") or ({} if main else styles.vocabulary(style)["unlabelled"])
    codes = training.get("codes", "encoder")
    codes_text = (CODES[codes] if main else
                  CODES["style data"].format(parts=", ".join(unlabelled), n=config.get("n_codes"),
                                             k=config.get("code_classes")) if codes == "data" else CODES["style encoder"])
    runs = "runs" if main else f"runs/{style}"
    text = CARD.format(
        name=config["name"], version=config["version"], res=config["resolution"], license=license,
        license_meta=license_meta, style=style, n_colors=["no", "one", "two", "three", "four"][len(vocabulary["colors"])]
        if len(vocabulary["colors"]) < 5 else len(vocabulary["colors"]), codes=codes_text, bank=config.get("code_bank") or "no",
        free=config.get("free_colors", 4), const=config.get("const_colors", 2),
        palette=PALETTE if tc.get("palette") else "",
        critic=(CRITIC.format(perceptual=tc.get("perceptual", 0.0), classify=tc.get("classify", 0.0),
                              data="data/train128" if main else f"data/{style}/train128", critic=f"{runs}/critic",
                              judge=f"{runs}/classifier" if main else f"{runs}/judge")
                if tc.get("perceptual") or tc.get("classify") else ""),
        templates=(TEMPLATES.format(t=config["template_channels"], r=config["base_res"] * 2)
                   if config.get("template_channels") else ""),
        command=command, folder=folder,
        training=(f"Stopped at step {training.get('step')} ({metrics.get('kimg')} kimg, "
                  f"{metrics.get('minutes')} min, {metrics.get('img_per_s')} img/s); last reconstruction L1 "
                  f"{metrics.get('recon')} (last stage). Hardware{HARDWARE_SCOPE['main' if main else 'style']}: "
                  f"a 2-core CPU VM, no GPU, OMP_WAIT_POLICY=PASSIVE, "
                  f"sharing the CPU with test runs part of the time. A run started with --init-from "
                  f"continues the weights of the run it names (a warm start with a fresh schedule).\n"
                  f"Settings: `{json.dumps(tc)}`") if training else "(unknown)",
        evaluation=evaluation.strip())
    stages = training.get("stages", [])
    if stages:
        lines = ["", "Stages (each warm-started from the newest checkpoint of the one before; figures are the "
                 "last logged step):", ""]
        for st in stages:
            m, c = st["last_metrics"], flat_train_config(st["train_config"])
            lines.append(f"- `{st['run']}`: {m.get('step')} steps, {m.get('kimg')} kimg, {m.get('minutes')} min, "
                         f"detail {c.get('detail', 0)}, part templates {c.get('template_channels', 0)}, "
                         f"palette colours {c.get('free_colors', 4)} free + {c.get('const_colors', 2)} constant, "
                         f"palette choice {c.get('palette', 0.0)}, "
                         + (f"critic features {c.get('perceptual', 0.0)} + labels {c.get('classify', 0.0)}, "
                            if c.get("perceptual") or c.get("classify") else "") +
                         f"style codes from {st.get('codes', 'the encoder')}")
        text = text.replace("\n## Evaluation", "\n".join(lines) + "\n\n## Evaluation")
    text = text.replace("\n## Evaluation", _reproduce(f"{config['name']}@{config['version']}") + "\n## Evaluation")
    if main:  # the learned upsampler's story and what changed between shipped versions (checked in here)
        for part in ("upsampler.md", "history.md"):
            text = text.rstrip("\n") + "\n\n" + Path(__file__).with_name(part).read_text()
    elif not (folder / "upsampler.safetensors").exists():
        text = text.rstrip("\n") + "\n" + NO_UPSAMPLER.format(res=config["resolution"])
    elif (story := STYLE_UPSAMPLERS / f"{style}.md").exists():  # train.evaluate_export --card writes it
        text = text.rstrip("\n") + "\n\n" + story.read_text().lstrip("\n")
    (folder / "README.md").write_text(text)


def _reproduce(model_id: str) -> str:
    """The checked-in stage list (train/stages.json or a style's) as commands, when one is this model's."""
    from train.stages import command_lines, stage_list_for
    data = stage_list_for(model_id)
    if data is None:
        return ""
    lines = "\n".join(command_lines(data))
    return f"\n## Reproduce\n\n{data['about']}\n\n```bash\n{lines}\n```\n"


def flat_train_config(tc: dict) -> dict:
    """A saved training config with its architecture fields beside the others (either form)."""
    return {**{k: v for k, v in tc.items() if k != "arch"}, **tc.get("arch", {})}


def _train_command(tc: dict) -> str:
    """The train.train command line of these settings: the cpu preset plus what differs from it."""
    from train.train import PRESETS
    import dataclasses
    base = flat_train_config(dataclasses.asdict(PRESETS["cpu"]))
    flags = []
    for key, value in tc.items():
        if key in base and base[key] != value:
            flag = "--" + key.replace("_", "-")
            flags.append(f"{flag} " + (" ".join(map(str, value)) if isinstance(value, list) else str(value)))
    return "python -m train.train --data data/train128 --preset cpu --out runs/NAME " + " ".join(flags)

"""Older checkpoints and weights folders -> the current form: every compatibility shim lives here.

The runtime (``avatar_studio``) reads only the current weights-folder format; it never imports
this module. An older folder is converted once, offline:

    python -m train.legacy weights/old-model weights/old-model-current

Shims:
- part templates as a linear map of the raw attribute embeddings (before avatar-studio@4)
  -> one template map per class (``fold_templates``); training's warm starts (--init_from) and
  ``train.export`` fold old checkpoints on the fly;
- a weights folder of that form, or a single ``model.safetensors`` over the shard size,
  -> the current folder (``convert_folder``);
- a vocabulary without the record of its artwork (made before styles: no style name, DiceBear
  mapping, identity tags or credit) -> the same choices with that record from the style's
  declaration in train/styles (``record_artwork``; what ``AvatarStudio.restyle`` needs);
- a training config with the architecture's fields flat (runs before they were nested in
  ``TrainConfig.arch``) -> nested (``nest_train_config``).
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import shutil
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from avatar_studio import weights
from avatar_studio.attributes import Vocabulary
from avatar_studio.generator import Architecture, Generator, GeneratorConfig
from avatar_studio.upsampler import UPSAMPLER_CONFIG, UPSAMPLER_WEIGHTS
from train import styles
from train.errors import TrainError, stage_main


def fold_templates(state: dict, config: GeneratorConfig) -> dict:
    """A state dict whose part templates are a linear map of the raw attribute embeddings (the
    form before @4) -> the same function with one template map per class (this form).

    Template of a class c of attribute a: W_a @ embedding_a[c], W_a that attribute's columns of the
    old linear map; its bias moves to ``template_bias``. States already in this form pass unchanged.
    """
    state = dict(state)
    for prefix in ("", "generator."):
        if prefix + "templates.weight" not in state:
            continue
        weight, bias = state.pop(prefix + "templates.weight"), state.pop(prefix + "templates.bias")  # (TRR, A*E)
        tables = []
        for i, name in enumerate(config.vocab.categorical):
            emb = state[f"{prefix}embeddings.{name}.weight"]  # (n_a, E)
            tables.append(emb @ weight[:, i * config.embed_dim:(i + 1) * config.embed_dim].T)  # (n_a, TRR)
        state[prefix + "templates"], state[prefix + "template_bias"] = torch.cat(tables), bias
    return state


UPSAMPLER_FILES = (UPSAMPLER_CONFIG, UPSAMPLER_WEIGHTS)  # the export head, trained on this generator: copied
ARCH_FIELDS = {f.name for f in dataclasses.fields(Architecture)}


def nest_train_config(saved: dict) -> dict:
    """A saved training config -> the nested form ({..., "arch": {...}}); nested ones pass unchanged."""
    if "arch" in saved:
        return dict(saved)
    return {**{k: v for k, v in saved.items() if k not in ARCH_FIELDS},
            "arch": {k: v for k, v in saved.items() if k in ARCH_FIELDS}}


def record_artwork(config: GeneratorConfig) -> GeneratorConfig:
    """The config with its vocabulary's artwork record (style, DiceBear mapping, identity tags, credit)
    filled in from the style's declaration; the choices must be the declaration's (so the model and
    its pictures are unchanged). Configs that have the record pass unchanged."""
    vocab = config.vocab
    if vocab.identity:
        return config
    declared = Vocabulary.from_dict(styles.vocabulary(vocab.style_name))
    if declared.conditioning() != vocab.conditioning():
        raise TrainError(f"the model's vocabulary is not the {vocab.style_name} declaration's "
                         f"(train/styles): cannot record its artwork")
    recorded = dataclasses.replace(vocab, style=declared.style, dicebear=declared.dicebear,
                                   identity=declared.identity, credit=declared.credit)
    return dataclasses.replace(config, vocabulary=recorded.to_dict())


def convert_folder(old: Path, new: Path) -> Path:
    """An older weights folder (checksums verified) -> the current format in ``new`` (the same
    function: tensors folded, shards under the size limit, fresh checksums; the documentation
    files and slider directions are copied)."""
    old, new = Path(old), Path(new)
    if new.exists() and any(new.iterdir()):
        raise TrainError(f"{new} is not empty; name a new folder")
    try:
        weights.verify_checksums(old)
        config = record_artwork(weights.read_config(old))
        state = {}
        for name in weights.tensor_files(old):
            state.update(load_file(old / name))
    except weights.WeightsError as e:
        raise TrainError(str(e)) from None
    model = Generator(config)
    model.load_state_dict(fold_templates(state, config), strict=True)
    new.mkdir(parents=True, exist_ok=True)
    weights.save_generator(model, new)
    for name in (weights.DIRECTIONS_JSON, weights.DIRECTIONS_TENSORS, *UPSAMPLER_FILES, *weights.UNCHECKED):
        if name != weights.CHECKSUMS_FILE and (old / name).is_file():
            shutil.copy2(old / name, new / name)
    weights.write_checksums(new)
    weights.load_generator(new)  # the result loads strictly, or this raises
    return new


@stage_main("python -m train.legacy")
def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m train.legacy", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("old", type=Path, help="weights folder in an older format")
    parser.add_argument("new", type=Path, help="new folder to write the current format into")
    args = parser.parse_args(argv)
    print(convert_folder(args.old, args.new))


if __name__ == "__main__":
    sys.exit(main())

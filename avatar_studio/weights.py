"""The weights folder: its file names, checksums, strict loading and saving. The one module
that knows the format (``generator.py`` is the architecture only; ``train/legacy.py`` converts
older folders and checkpoints).

    weights/avatar-studio/
      config.json                          GeneratorConfig (architecture + vocabulary)
      model.safetensors                    the generator, when it fits in one file; else
      model.safetensors.index.json         {"weight_map": {tensor: shard}} and
      model-00001-of-0000N.safetensors     shards, each under MAX_SHARD_BYTES (a Space refuses
                                           plain-git files over 10 MiB)
      directions.json, directions.safetensors   the slider directions (optional)
      checksums.json                       SHA-256 of every file above
      README.md, evaluation.json, training.json   documentation; never loaded, so not checked

Art styles: a further DiceBear style is a folder of the same format beside it, named after the
style its config's vocabulary records (``weights/big-smile/``: ``"vocabulary": {"style":
"big-smile", ...}``); ``style_folders`` finds them, and each is loaded like the first.

Loading verifies every checksum first, then builds the model on the meta device (no memory),
checks every tensor name and shape against the files' headers, and loads with strict=True.
Only safetensors are read; nothing is unpickled.
"""
from __future__ import annotations

import hashlib
import json
import os
import re
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from avatar_studio.controls import Directions
from avatar_studio.generator import Generator, GeneratorConfig

CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
SHARD_NAME = "model-{:05d}-of-{:05d}.safetensors"
DIRECTIONS_JSON = "directions.json"
DIRECTIONS_TENSORS = "directions.safetensors"
CHECKSUMS_FILE = "checksums.json"
MAX_CHECKSUMS_BYTES = 1 << 20
HUB_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,95}/[A-Za-z0-9][A-Za-z0-9_.-]{0,95}")
# documentation beside the weights, rewritten after evaluation; never loaded
UNCHECKED = (CHECKSUMS_FILE, "README.md", "evaluation.json", "training.json", "export_evaluation.json")
MAX_SHARD_BYTES = 9 << 20        # every file well under the 10 MiB a Space takes in plain git
# what a Hub download fetches (patterns for huggingface_hub's allow_patterns): no pickles
HUB_FILES = [CONFIG_FILE, CHECKSUMS_FILE, WEIGHTS_FILE, WEIGHTS_INDEX, "model-*-of-*.safetensors",
             DIRECTIONS_JSON, DIRECTIONS_TENSORS, "upsampler.json", "upsampler.safetensors"]
# a published repo holds the main weights at its root and each further art style's in a folder named
# after the style (<style>/config.json, ...: avatar_studio.publish); a download fetches both
HUB_STYLE_FILES = [f"*/{pattern}" for pattern in HUB_FILES]


class WeightsError(RuntimeError):
    """A weights folder is missing, damaged or does not match its config."""


# ---- checksums ----------------------------------------------------------------------------
def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def write_checksums(folder: Path) -> None:
    folder = Path(folder)
    files = sorted(p.name for p in folder.iterdir() if p.is_file() and p.name not in UNCHECKED)
    (folder / CHECKSUMS_FILE).write_text(json.dumps({n: sha256(folder / n) for n in files}, indent=1) + "\n")


def verify_checksums(folder: Path) -> None:
    """Every file the manifest lists matches; the config and every tensor file are listed."""
    folder = Path(folder)
    manifest_path = folder / CHECKSUMS_FILE
    if not manifest_path.is_file():
        raise WeightsError(f"{manifest_path} is missing: cannot verify the weights")
    with open(manifest_path, "rb") as f:
        data = f.read(MAX_CHECKSUMS_BYTES + 1)
    if len(data) > MAX_CHECKSUMS_BYTES:
        raise WeightsError(f"{manifest_path} is too large (at most {MAX_CHECKSUMS_BYTES} bytes)")
    try:
        manifest = json.loads(data)
    except RecursionError:
        raise WeightsError(f"{manifest_path} is not valid JSON (nested too deeply)") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise WeightsError(f"{manifest_path} is not valid JSON ({e})") from None
    if not isinstance(manifest, dict) or not all(isinstance(v, str) for v in manifest.values()):
        raise WeightsError(f"{manifest_path} is not an object of file names and SHA-256 digests")
    for name in (CONFIG_FILE, WEIGHTS_INDEX if WEIGHTS_INDEX in manifest else WEIGHTS_FILE):
        if name not in manifest:
            raise WeightsError(f"{manifest_path} has no checksum for {name}")
    for name, expected in manifest.items():
        path = folder / name
        if name in ("", ".", "..") or Path(name).name != name or "\\" in name:    # never a path: no reads outside
            raise WeightsError(f"{manifest_path} lists {name[:80]!r}, which is not a file of the weights folder")
        if not path.is_file():
            raise WeightsError(f"{path} is missing (listed in {CHECKSUMS_FILE})")
        if sha256(path) != expected:
            raise WeightsError(f"{path} is damaged: its SHA-256 does not match {CHECKSUMS_FILE}")
    for name in tensor_files(folder):  # shards named by a checked index must be checked too
        if name not in manifest:
            raise WeightsError(f"{manifest_path} has no checksum for {name}")


# ---- the tensor files ---------------------------------------------------------------------
def tensor_files(folder: Path) -> list[str]:
    """The safetensors files that hold the generator: the index's shards, or model.safetensors."""
    index = Path(folder) / WEIGHTS_INDEX
    if not index.is_file():
        return [WEIGHTS_FILE]
    weight_map = _weight_map(index)
    return sorted(set(weight_map.values()))


def _weight_map(index: Path) -> dict[str, str]:
    try:
        weight_map = json.loads(index.read_text())["weight_map"]
        if not isinstance(weight_map, dict) or not all(
                isinstance(v, str) and Path(v).name == v and v.endswith(".safetensors") for v in weight_map.values()):
            raise ValueError("weight_map must map tensor names to .safetensors files of the folder")
    except (ValueError, KeyError, TypeError, UnicodeDecodeError) as e:
        raise WeightsError(f"{index} is not a safetensors index ({e})") from None
    return weight_map


def _shards(state: dict[str, torch.Tensor], max_bytes: int) -> list[dict[str, torch.Tensor]]:
    """Tensors in state order, packed into files of at most ``max_bytes`` of data each."""
    shards: list[dict[str, torch.Tensor]] = [{}]
    size = 0
    for name, tensor in state.items():
        n = tensor.numel() * tensor.element_size()
        if n > max_bytes:
            raise ValueError(f"tensor {name} ({n} bytes) does not fit a {max_bytes}-byte shard")
        if size + n > max_bytes and shards[-1]:
            shards.append({})
            size = 0
        shards[-1][name] = tensor
        size += n
    return shards


def save_generator(model: Generator, folder: Path, max_shard_bytes: int = MAX_SHARD_BYTES) -> None:
    """config.json + the tensors (one file, or shards and an index) + checksums.json.

    Tensors are stored as they are (float32): half precision moves a few pixels of the golden
    images by one level (measured on avatar-studio@5: 64-150 of 16,384 pixels)."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for old in [WEIGHTS_FILE, WEIGHTS_INDEX, *(p.name for p in folder.glob("model-*-of-*.safetensors"))]:
        (folder / old).unlink(missing_ok=True)
    (folder / CONFIG_FILE).write_text(json.dumps(asdict(model.config), sort_keys=True, indent=2) + "\n")
    state = {k: v.detach().cpu().contiguous() for k, v in model.state_dict().items()}
    shards = _shards(state, max_shard_bytes)
    if len(shards) == 1:
        save_file(state, folder / WEIGHTS_FILE, metadata={"format": "pt"})
    else:
        weight_map = {}
        for i, shard in enumerate(shards, start=1):
            name = SHARD_NAME.format(i, len(shards))
            save_file(shard, folder / name, metadata={"format": "pt"})
            weight_map.update(dict.fromkeys(shard, name))
        total = sum(v.numel() * v.element_size() for v in state.values())
        (folder / WEIGHTS_INDEX).write_text(json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map},
                                                       indent=1) + "\n")
    write_checksums(folder)


def read_config(folder: Path) -> GeneratorConfig:
    """The folder's GeneratorConfig (not checked against its checksum: call ``load_generator``)."""
    path = Path(folder) / CONFIG_FILE
    try:
        return GeneratorConfig(**json.loads(path.read_text()))
    except (TypeError, ValueError, KeyError, AttributeError) as e:
        raise WeightsError(f"{path} does not describe a generator ({e})") from None


def load_generator(folder: Path, device: str | torch.device = "cpu") -> Generator:
    """Load a weights folder: checksums first, then config, then a strict safetensors load.

    The model is first built on the meta device (no memory) and its tensor shapes checked
    against the files' headers, so a config that asks for a huge model fails before allocating.
    """
    folder = Path(folder)
    if not (folder / CONFIG_FILE).is_file():
        raise WeightsError(f"no {CONFIG_FILE} in {folder}: not a weights folder")
    verify_checksums(folder)
    config = read_config(folder)
    try:
        with torch.device("meta"):
            model = Generator(config)
    except (TypeError, ValueError, KeyError, RuntimeError) as e:  # RuntimeError: torch refuses a size
        raise WeightsError(f"{folder / CONFIG_FILE} does not describe a generator ({e})") from None
    sharded = (folder / WEIGHTS_INDEX).is_file()
    where = folder / (WEIGHTS_INDEX if sharded else WEIGHTS_FILE)
    found: dict[str, tuple] = {}
    home: dict[str, str] = {}       # tensor -> the file that holds it
    for name in tensor_files(folder):
        try:
            with safe_open(folder / name, "pt") as f:
                shapes = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
        except Exception as e:  # safetensors raises its own types for truncated / garbage files
            raise WeightsError(f"{folder / name} cannot be loaded: {e}") from None
        twice = sorted(shapes.keys() & found.keys())
        if twice:
            raise WeightsError(f"{where} cannot be loaded: {twice[0]} is stored twice")
        found.update(shapes)
        home.update(dict.fromkeys(shapes, name))
    if sharded and _weight_map(folder / WEIGHTS_INDEX) != home:
        raise WeightsError(f"{where} cannot be loaded: its weight_map does not list the shards' tensors")
    problems = _shape_problems({k: tuple(v.shape) for k, v in model.state_dict().items()}, found)
    if problems and "templates.weight" in found:  # part templates as before avatar-studio@4
        problems += f"; an older format: convert it once with python -m train.legacy {folder} NEW_FOLDER"
    if problems:
        raise WeightsError(f"{where} cannot be loaded: it does not fit {CONFIG_FILE}: {problems}")
    try:
        state = {}
        for name in tensor_files(folder):
            state.update(load_file(folder / name))
        model = model.to_empty(device="cpu")  # every tensor is then overwritten: strict, shapes checked
        model.load_state_dict(state, strict=True)
    except Exception as e:
        raise WeightsError(f"{where} cannot be loaded: {e}") from None
    # channels-last conv weights, like synthesis's activations (same maths, faster on the CPU)
    return model.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)


def _shape_problems(expected: dict[str, tuple], found: dict[str, tuple]) -> str:
    """Missing keys, unexpected keys and size mismatches between a model and a file ('' if none)."""
    out = []
    missing = [k for k in expected if k not in found]
    unexpected = [k for k in found if k not in expected]
    if missing:
        out.append("Missing key(s): " + ", ".join(missing[:5]))
    if unexpected:
        out.append("Unexpected key(s): " + ", ".join(unexpected[:5]))
    for k in (k for k in expected if k in found):
        if expected[k] != found[k]:
            out.append(f"size mismatch for {k}: {list(found[k])} in the file, {list(expected[k])} in the config")
            break
    return "; ".join(out)


# ---- slider directions --------------------------------------------------------------------
def save_directions(directions: Directions, folder: Path) -> None:
    """directions.safetensors + directions.json (rewrite checksums.json afterwards)."""
    save_file({"vectors": directions.vectors.contiguous(), "scales": directions.scales.contiguous()},
              Path(folder) / DIRECTIONS_TENSORS)
    (Path(folder) / DIRECTIONS_JSON).write_text(json.dumps({"names": directions.names}, indent=1) + "\n")


def load_directions(folder: Path, w_dim: int) -> Directions:
    """The folder's slider directions (none without directions.json); checksums are the caller's."""
    folder = Path(folder)
    if not (folder / DIRECTIONS_JSON).is_file():
        return Directions.empty(w_dim)
    try:
        names = json.loads((folder / DIRECTIONS_JSON).read_text())["names"]
        tensors = load_file(folder / DIRECTIONS_TENSORS)
        vectors, scales = tensors["vectors"], tensors["scales"]
    except Exception as e:
        raise WeightsError(f"{folder / DIRECTIONS_TENSORS} cannot be loaded: {e}") from None
    if vectors.shape != (len(names), w_dim) or scales.shape != (len(names),):
        raise WeightsError(f"{folder / DIRECTIONS_TENSORS} does not match {DIRECTIONS_JSON} and w_dim {w_dim}")
    return Directions(list(names), vectors, scales)


# ---- where the folder is ------------------------------------------------------------------
def locate(name_or_path: str | os.PathLike) -> Path:
    """A local weights folder, or a Hub repo id fetched with huggingface_hub (only HUB_FILES, at its root
    and in its style folders; respects HF_HUB_OFFLINE and HF_ENDPOINT; fails at once when offline)."""
    path = Path(name_or_path)
    if path.is_dir():
        return path
    text = str(name_or_path)
    if not is_hub_id(text):
        raise WeightsError(f"no weights folder at {path} (expected {CONFIG_FILE} + {WEIGHTS_FILE})")
    from huggingface_hub import snapshot_download
    try:
        return Path(snapshot_download(text, allow_patterns=HUB_FILES + HUB_STYLE_FILES, etag_timeout=5))
    except Exception as e:  # offline, unknown repo, no permission: say which and why
        raise WeightsError(f"cannot fetch weights {text!r} from the Hugging Face Hub "
                           f"({type(e).__name__}: {str(e)[:200]}); pass a local weights folder instead") from None


def is_hub_id(text: str) -> bool:
    """Whether ``text`` (not a folder here) names a Hub repo: ``owner/name``, and not a local path.

    A mistyped local path is never turned into a download: an id whose owner part exists here
    (``weights/avatar-studo``: ``weights`` is a folder), or that looks like a file (a suffix), is a path.
    """
    return (HUB_ID.fullmatch(text) is not None and not Path(text).suffix
            and not os.path.lexists(text.split("/")[0]))


def style_folders(folder: Path, exclude: str) -> list[Path]:
    """The weights folders of further art styles with ``folder``: inside it (a published Hub repo:
    ``<style>/``), then beside it (the local layout: ``weights/<style>/``), each a folder whose
    config.json's vocabulary names the folder's own name as its style (``exclude``: the main folder's
    style), in name order. Their files are checked when they are loaded."""
    found = []
    folder = Path(folder).resolve()
    for path in [*sorted(folder.iterdir()), *sorted(folder.parent.iterdir())]:
        config = path / CONFIG_FILE
        if path == folder or path.name == exclude or not config.is_file():
            continue
        try:
            style = json.loads(config.read_text())["vocabulary"].get("style")
        except (ValueError, KeyError, TypeError, AttributeError, UnicodeDecodeError) as e:
            raise WeightsError(f"{config} does not describe a generator ({type(e).__name__}: {e})") from None
        if style == path.name:
            found.append(path)
    return found


def load(name_or_path: str | os.PathLike, device: str | torch.device = "cpu") -> tuple[Generator, Directions]:
    """The generator and its slider directions from a folder or Hub id, every file checked."""
    folder = locate(name_or_path)
    generator = load_generator(folder, device=device)
    return generator, load_directions(folder, generator.config.w_dim)

"""The export upsampler: the generator's 128 px palette logits -> crisp 256 / 512 / 1024 px RGBA.

The generator paints each pixel as a softmax mix of a small palette (``generator.paint``). Its
logits, not its RGB, are what gets enlarged: upsampled bilinearly and only then turned into
colours, flat regions stay flat and an edge lands where the winning palette entry changes, at
sub-pixel precision. A small learned head on top draws what bilinear logits cannot (corners,
thin strokes, the exact anti-aliased edge width of the vector art):

    x     = [log-softmax(mix) | alpha logit | painted RGB]          (B, n_mix + 4, R, R)
    delta = pixel_shuffle(convs(x), factor)                          (B, n_mix + 1, fR, fR)
    L     = bilinear(mix | alpha, fR) + delta                        logits at f x the native size
    out   = paint(sharpness * L)          at fR;  paint(sharpness' * bilinear(L, S)) for S > fR;
            paint(sharpness * L) area-reduced (premultiplied alpha)  for S < fR

Without learned weights (``Upsampler`` is None) ``upsample_logits`` is the same path minus the
head: plain logit upsampling. The weights live beside the generator's as ``upsampler.json`` +
``upsampler.safetensors`` (listed in checksums.json) and load strictly, like the generator.
"""
from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from avatar_studio.generator import CHECKSUMS_FILE, WeightsError, _shape_problems, paint, verify_checksums

UPSAMPLER_CONFIG = "upsampler.json"
UPSAMPLER_WEIGHTS = "upsampler.safetensors"


@dataclass
class UpsamplerConfig:
    generator: str                   # "name@version" of the generator whose logits it reads
    n_mix: int                       # that generator's palette size (mix logit channels)
    factor: int = 4                  # the head draws factor x the native size (pixel shuffle)
    width: int = 32                  # feature channels of the head
    layers: int = 3                  # 3x3 convolutions before the 1x1 output (receptive field 2 layers + 1)

    def __post_init__(self) -> None:
        if self.factor < 2 or self.width < 1 or self.layers < 1 or self.n_mix < 1:
            raise ValueError(f"factor must be >= 2, width, layers and n_mix >= 1, got {asdict(self)}")


def _logits_to(logits: torch.Tensor, size: int) -> torch.Tensor:
    return F.interpolate(logits, size=(size, size), mode="bilinear", align_corners=False)


def _paint_at(mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
    """Logits at some size -> straight-alpha RGBA at ``size``: bilinear logits up, area-reduced RGBA down."""
    side = mix.shape[-1]
    if size >= side:
        return paint(_logits_to(mix, size), palette, _logits_to(alpha, size))
    if side % size:
        raise ValueError(f"cannot reduce {side} px to {size} px: not a whole factor")
    rgba = paint(mix, palette, alpha)
    a = F.avg_pool2d(rgba[:, 3:], side // size)
    rgb = F.avg_pool2d(rgba[:, :3] * rgba[:, 3:], side // size) / a.clamp_min(1e-6)  # premultiplied mean
    return torch.cat([rgb.clamp(0, 1), a], dim=1)


def upsample_logits(mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
    """Plain logit upsampling (no learned head): (mix, palette, alpha) at R px -> RGBA (B, 4, size, size)."""
    return _paint_at(mix, palette, alpha, size)


class Upsampler(nn.Module):
    def __init__(self, config: UpsamplerConfig):
        super().__init__()
        self.config = config
        c, k = config.width, config.n_mix + 1
        layers: list[nn.Module] = []
        for i in range(config.layers):
            layers += [nn.Conv2d(config.n_mix + 4 if i == 0 else c, c, 3, padding=1), nn.LeakyReLU(0.2)]
        self.body = nn.Sequential(*layers)
        self.out = nn.Conv2d(c, k * config.factor ** 2, 1)
        nn.init.zeros_(self.out.weight)  # starts as plain logit upsampling
        nn.init.zeros_(self.out.bias)
        # log of the logit scale at factor x (index 0) and beyond it (index 1): the edge width
        self.log_sharpness = nn.Parameter(torch.zeros(2))

    def logits(self, mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mix (B, K, R, R), palette (B, K, 3), alpha (B, 1, R, R)) -> (mix, alpha) logits at factor x R."""
        f = self.config.factor
        side = mix.shape[-1] * f
        x = torch.cat([torch.log_softmax(mix, dim=1) / 8, alpha / 8, paint(mix, palette, alpha)[:, :3] * 2 - 1], dim=1)
        x = x.contiguous(memory_format=torch.channels_last)  # faster convolutions on the CPU (same maths)
        delta = F.pixel_shuffle(self.out(self.body(x)), f)  # (B, K + 1, fR, fR)
        up = _logits_to(torch.cat([mix, alpha], dim=1), side) + delta
        return up[:, :-1], up[:, -1:]

    def paint_logits(self, mix: torch.Tensor, alpha: torch.Tensor, palette: torch.Tensor, size: int) -> torch.Tensor:
        """Logits of ``logits`` (B, K, fR, fR), (B, 1, fR, fR) -> RGBA (B, 4, size, size), sharpened for the size."""
        scale = self.log_sharpness[0 if size <= mix.shape[-1] else 1].exp()
        return _paint_at(mix * scale, palette, alpha * scale, size)

    def forward(self, mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
        """-> straight-alpha RGBA (B, 4, size, size) in [0, 1]."""
        m, a = self.logits(mix, palette, alpha)
        return self.paint_logits(m, a, palette, size)


# ---- files ----------------------------------------------------------------------------
def save_upsampler(model: Upsampler, folder: Path) -> None:
    """upsampler.json + upsampler.safetensors into a weights folder (then rewrite its checksums)."""
    from avatar_studio.generator import write_checksums
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    (folder / UPSAMPLER_CONFIG).write_text(json.dumps(asdict(model.config), indent=1, sort_keys=True) + "\n")
    state = {k: v.detach().contiguous().cpu() for k, v in model.state_dict().items()}
    save_file(state, folder / UPSAMPLER_WEIGHTS, metadata={"format": "pt"})
    write_checksums(folder)


def has_upsampler(folder: Path) -> bool:
    return (Path(folder) / UPSAMPLER_CONFIG).is_file()


def load_upsampler(folder: Path, generator_id: str, n_mix: int, device: str | torch.device = "cpu") -> Upsampler:
    """Load a weights folder's upsampler: checksums first, then config, then a strict safetensors load.

    It must have been trained on this generator (``generator_id`` "name@version", ``n_mix`` channels).
    """
    folder = Path(folder)
    verify_checksums(folder)
    manifest = json.loads((folder / CHECKSUMS_FILE).read_text())
    for name in (UPSAMPLER_CONFIG, UPSAMPLER_WEIGHTS):
        if name not in manifest:
            raise WeightsError(f"{folder / CHECKSUMS_FILE} has no checksum for {name}")
    try:
        config = UpsamplerConfig(**json.loads((folder / UPSAMPLER_CONFIG).read_text()))
        with torch.device("meta"):
            model = Upsampler(config)
    except (TypeError, ValueError, KeyError, RuntimeError) as e:
        raise WeightsError(f"{folder / UPSAMPLER_CONFIG} does not describe an upsampler ({e})") from None
    if config.generator != generator_id or config.n_mix != n_mix:
        raise WeightsError(f"{folder / UPSAMPLER_CONFIG} was trained for {config.generator} ({config.n_mix} palette "
                           f"channels), but the generator is {generator_id} ({n_mix}): retrain it "
                           f"(python -m train.upsample)")
    path = folder / UPSAMPLER_WEIGHTS
    try:
        with safe_open(path, "pt") as f:
            found = {k: tuple(f.get_slice(k).get_shape()) for k in f.keys()}
    except Exception as e:  # safetensors raises its own types for truncated / garbage files
        raise WeightsError(f"{path} cannot be loaded: {e}") from None
    problems = _shape_problems({k: tuple(v.shape) for k, v in model.state_dict().items()}, found)
    if problems:
        raise WeightsError(f"{path} cannot be loaded: it does not fit {UPSAMPLER_CONFIG}: {problems}")
    try:
        model = model.to_empty(device="cpu")
        model.load_state_dict(load_file(path), strict=True)
    except Exception as e:
        raise WeightsError(f"{path} cannot be loaded: {e}") from None
    return model.eval().requires_grad_(False).to(device, memory_format=torch.channels_last)

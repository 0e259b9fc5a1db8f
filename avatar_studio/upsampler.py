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

from avatar_studio.generator import paint
from avatar_studio.weights import CHECKSUMS_FILE, WeightsError, _shape_problems, verify_checksums, write_checksums

UPSAMPLER_CONFIG = "upsampler.json"
UPSAMPLER_WEIGHTS = "upsampler.safetensors"
FLAT = 12.0  # a logit margin past which the other palette entries change no 8-bit value
TILE = 2     # side (native pixels) of the tiles that paint_tiles paints in full near edges


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
    """Bilinear resize of logits (B, C, H, W): computed channels-last (the fast CPU kernel for many
    channels), returned contiguous (the fast layout for the softmax over channels)."""
    return F.interpolate(logits.contiguous(memory_format=torch.channels_last), size=(size, size),
                         mode="bilinear", align_corners=False).contiguous()


def _paint_at(mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
    """Logits at some size -> straight-alpha RGBA at ``size`` (whole image, differentiable: training):
    bilinear logits up, area-reduced RGBA down."""
    if size >= mix.shape[-1]:
        return paint(_logits_to(mix, size), palette, _logits_to(alpha, size))
    if mix.shape[-1] % size:
        raise ValueError(f"cannot reduce {mix.shape[-1]} px to {size} px: not a whole factor")
    return _area_down(paint(mix, palette, alpha), size)


def _agree(t: torch.Tensor, radius: int) -> torch.Tensor:
    """(B, 1, H, W): whether every value of ``t`` in the (2 radius + 1)^2 neighbourhood is the same."""
    k = 2 * radius + 1
    return F.max_pool2d(t, k, 1, radius) == -F.max_pool2d(-t, k, 1, radius)


def paint_tiles(logits: torch.Tensor, palette: torch.Tensor, f: int, delta: torch.Tensor | None = None,
                second: int = 1) -> torch.Tensor:
    """RGBA (B, 4, f s R, f s R) of native logits (B, K + 1, R, R) (palette mix, then alpha), painted
    only where it matters. The same pixels as the whole-image computation, to 8-bit precision:

        L = bilinear(logits, f R) + pixel_shuffle(delta, f)      (delta (B, (K + 1) f^2, R, R) or None)
        out = paint(bilinear(L, f s R))                           (s = ``second``; no resize when 1)

    A native pixel whose output pixels provably (bounds over its neighbours and sub-pixels) pick one
    palette entry by a logit lead past FLAT, and one side of the alpha threshold by more than FLAT,
    paints that entry (the rest weigh < 14 e^-12 < 0.03 / 255 there). Tiles of TILE x TILE native
    pixels holding any other pixel are computed in full from patches with a border, so the
    interpolation inside them is the whole image's: the softmax over every palette entry runs
    near edges only, and no full-size tensor of all entries is ever made.
    """
    B, K1, R, _ = logits.shape
    T, b = TILE, 1 if second > 1 else 0  # b: native border of the f-level logits a second resize reads
    if R % T:
        raise ValueError(f"the native size {R} must be a multiple of {T}")
    K = K1 - 1
    mix, alpha = logits[:, :K], logits[:, K:]
    top = mix.topk(2, dim=1)
    choice = top.indices[:, :1]  # (B, 1, R, R): the winning entry
    # lower bounds over every f-level pixel of a native pixel: the winner's lead, the alpha's distance from 0
    lead = -F.max_pool2d(-(top.values[:, :1] - top.values[:, 1:]), 3, 1, 1)  # bilinear mixes the 3x3
    a_lo, a_hi = -F.max_pool2d(-alpha, 3, 1, 1), F.max_pool2d(alpha, 3, 1, 1)
    if delta is not None:
        d_lo, d_hi = delta.view(B, K1, f * f, R, R).aminmax(dim=2)  # (B, K + 1, R, R) over the sub-pixels
        rivals = d_hi[:, :K].scatter(1, choice, float("-inf")).amax(1, keepdim=True)
        lead = lead + d_lo[:, :K].gather(1, choice) - rivals
        a_lo, a_hi = a_lo + d_lo[:, K:], a_hi + d_hi[:, K:]
    side = (a_lo > FLAT).float()
    sure = _agree(choice.float(), 1) & (lead > FLAT) & ((a_lo > FLAT) | (a_hi < -FLAT))  # (B, 1, R, R)
    # a second resize mixes the f-level pixels of neighbouring native pixels: all of them must be sure alike
    calm = (-F.max_pool2d(-sure.float(), 3, 1, 1) > 0) & _agree(side, 1) if second > 1 else sure
    colour = torch.gather(palette, 1, choice.flatten(1)[..., None].expand(-1, -1, 3))  # (B, R R, 3)
    flat = torch.cat([colour, side.flatten(1)[..., None]], dim=2).view(B, R // T, T, R // T, T, 4)
    u, t = f * second, f * second * T
    # the output as tiles (B, R/T, R/T, t, t, RGBA): every native pixel its entry's colour, u x u times
    out = flat.permute(0, 1, 3, 2, 4, 5).repeat_interleave(u, dim=3).repeat_interleave(u, dim=4)
    busy = F.max_pool2d((~calm).float(), T)[:, 0].nonzero(as_tuple=True)  # (batch, ty, tx) of tiles to paint
    if busy[0].numel():
        out[busy] = _paint_busy(logits, palette, busy, f, delta, second).permute(0, 2, 3, 1)
    return out.permute(0, 1, 3, 2, 4, 5).reshape(B, R * u, R * u, 4).permute(0, 3, 1, 2)  # channels-last memory


def _paint_busy(logits: torch.Tensor, palette: torch.Tensor, busy: tuple[torch.Tensor, ...], f: int,
                delta: torch.Tensor | None, second: int) -> torch.Tensor:
    """RGBA (n, 4, t, t) of the busy tiles, computed in full (see ``paint_tiles``).

    One resize: each tile from its native patch with a one-pixel border. Two: the f-level logits of
    the whole image once, then each tile from its f-level patch with a one-pixel border.
    """
    B, K1, R, _ = logits.shape
    T = TILE
    if second == 1:
        z = _resize_patches(_patches(logits, busy, T, 1, T + 2), f)  # (n, K + 1, f T, f T)
        if delta is not None:
            z = z + F.pixel_shuffle(_patches(delta, busy, T, 0, T), f)
    else:
        fine = _logits_to(logits, f * R)
        if delta is not None:
            fine = fine + F.pixel_shuffle(delta, f)
        z = _resize_patches(_patches(fine, busy, f * T, 1, f * T + 2), second)  # (n, K + 1, f s T, f s T)
    return paint(z[:, :-1], palette[busy[0]], z[:, -1:])


def _resize_patches(x: torch.Tensor, s: int) -> torch.Tensor:
    """Bilinear x s of patches (n, C, w, w) with a one-pixel border, the border's output cut off:
    (n, C, s (w - 2), s (w - 2)), the values the whole image's bilinear resize has there."""
    w = x.shape[-1]
    eye = torch.eye(w, dtype=x.dtype, device=x.device)[:, None]  # the 1-D weights: resize of the identity
    m = F.interpolate(eye, scale_factor=s, mode="linear", align_corners=False)[:, 0, s:-s]  # (w, s (w - 2))
    return m.T @ x @ m  # rows, then columns


def _patches(x: torch.Tensor, tiles: tuple[torch.Tensor, ...], T: int, border: int, w: int) -> torch.Tensor:
    """(n, C, w, w) patches of x (B, C, R, R) at the tiles (batch, ty, tx), starting ``border`` pixels
    before each tile's corner; outside the image the edge repeats (as bilinear clamps)."""
    B, C, R, _ = x.shape
    flat = x.transpose(0, 1).reshape(C, B * R * R)  # (C, B R R): no copy for one image in NCHW
    steps = torch.arange(w, device=x.device) - border
    ys = (tiles[1][:, None] * T + steps).clamp(0, R - 1)  # (n, w)
    xs = (tiles[2][:, None] * T + steps).clamp(0, R - 1)
    index = (tiles[0][:, None, None] * R + ys[:, :, None]) * R + xs[:, None, :]  # (n, w, w)
    return flat.index_select(1, index.flatten()).view(C, -1, w, w).transpose(0, 1)


def _area_down(rgba: torch.Tensor, size: int) -> torch.Tensor:
    """Straight-alpha RGBA reduced by a whole factor, averaged in premultiplied alpha."""
    k = rgba.shape[-1] // size
    a = F.avg_pool2d(rgba[:, 3:], k)
    rgb = F.avg_pool2d(rgba[:, :3] * rgba[:, 3:], k) / a.clamp_min(1e-6)
    return torch.cat([rgb.clamp(0, 1), a], dim=1)


def _factors(native: int, size: int, f: int) -> tuple[int, int]:
    """(f, second) for an output size: f x the native size, then x second (whole factors)."""
    if size % native or size < native:
        raise ValueError(f"export size {size} must be a whole multiple of the native {native} px")
    up = size // native
    if up <= f:
        return up, 1
    if up % f:
        raise ValueError(f"export size {size} must be {f} x {native} px times a whole factor")
    return f, up // f


def upsample_logits(mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
    """Plain logit upsampling (no learned head): (mix, palette, alpha) at R px -> RGBA (B, 4, size, size)."""
    R = mix.shape[-1]
    if size % R:
        raise ValueError(f"export size {size} must be a whole multiple of the native {R} px")
    return paint_tiles(torch.cat([mix, alpha], dim=1), palette, size // R)


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

    def features(self, mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor) -> torch.Tensor:
        """What the head reads, (B, K + 4, R, R): log palette weights, alpha logit, painted RGB."""
        x = torch.cat([torch.log_softmax(mix, dim=1) / 8, alpha / 8, paint(mix, palette, alpha)[:, :3] * 2 - 1], dim=1)
        return self.body(x.contiguous(memory_format=torch.channels_last))  # faster convolutions on the CPU

    def logits(self, mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """(mix (B, K, R, R), palette (B, K, 3), alpha (B, 1, R, R)) -> (mix, alpha) logits at factor x R
        (training; ``forward`` paints the same without making them)."""
        f = self.config.factor
        delta = F.pixel_shuffle(self.out(self.features(mix, palette, alpha)), f)  # (B, K + 1, fR, fR)
        up = _logits_to(torch.cat([mix, alpha], dim=1), mix.shape[-1] * f) + delta
        return up[:, :-1], up[:, -1:]

    def paint_logits(self, mix: torch.Tensor, alpha: torch.Tensor, palette: torch.Tensor, size: int) -> torch.Tensor:
        """Logits of ``logits`` (B, K, fR, fR), (B, 1, fR, fR) -> RGBA (B, 4, size, size), sharpened for the size."""
        scale = self.log_sharpness[0 if size <= mix.shape[-1] else 1].exp()
        return _paint_at(mix * scale, palette, alpha * scale, size)

    def forward(self, mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int) -> torch.Tensor:
        """-> straight-alpha RGBA (B, 4, size, size) in [0, 1]: ``paint_logits(*logits(...))`` to 8-bit
        precision, painted by ``paint_tiles`` (the softmax near edges only). Below factor x, area-reduced."""
        R, f = mix.shape[-1], self.config.factor
        if size < f * R:
            return _area_down(self(mix, palette, alpha, f * R), size)
        f, second = _factors(R, size, f)
        scale = self.log_sharpness[0 if second == 1 else 1].exp()  # the logits are linear in it: fold it in
        h = self.features(mix, palette, alpha).flatten(2)  # (B, C, R R)
        w = self.out.weight.flatten(1) * scale  # the 1x1 output layer as a matrix ((K + 1) f^2, C)
        delta = (w @ h + self.out.bias[:, None] * scale).view(-1, w.shape[0], R, R)  # (B, (K + 1) f^2, R, R)
        return paint_tiles(torch.cat([mix, alpha], dim=1) * scale, palette, f, delta, second)


# ---- files ----------------------------------------------------------------------------
def save_upsampler(model: Upsampler, folder: Path) -> None:
    """upsampler.json + upsampler.safetensors into a weights folder (then rewrite its checksums)."""
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

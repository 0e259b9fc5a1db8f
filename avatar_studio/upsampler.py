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
from typing import Callable

import torch
import torch.nn.functional as F
from safetensors import safe_open
from safetensors.torch import load_file, save_file
from torch import nn

from avatar_studio.generator import paint
from avatar_studio.weights import CHECKSUMS_FILE, WeightsError, _shape_problems, verify_checksums, write_checksums

UPSAMPLER_CONFIG = "upsampler.json"
UPSAMPLER_WEIGHTS = "upsampler.safetensors"
Encode = Callable[[torch.Tensor], torch.Tensor]  # painted RGBA values -> stored values, elementwise
CHUNK = 2048  # pixels a time where whole-image products would leave the cache
FLAT = 12.0  # a logit margin past which the other palette entries change no 8-bit value


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


def _max3(t: torch.Tensor) -> torch.Tensor:
    """(..., H, W): the maximum over each 3 x 3 neighbourhood (inside the image); as max_pool2d(t, 3, 1, 1),
    separable and without indices (5-20x faster on the CPU)."""
    p = F.pad(t, (1, 1, 1, 1), value=float("-inf"))
    rows = torch.maximum(torch.maximum(p[..., :-2, :], p[..., 1:-1, :]), p[..., 2:, :])
    return torch.maximum(torch.maximum(rows[..., :-2], rows[..., 1:-1]), rows[..., 2:])


def _min3(t: torch.Tensor) -> torch.Tensor:
    return -_max3(-t)


def paint_sparse(logits: torch.Tensor, palette: torch.Tensor, f: int,
                 delta: tuple[torch.Tensor, torch.Tensor] | None = None, second: int = 1,
                 encode: Encode | None = None) -> torch.Tensor:
    """RGBA (B, 4, f s R, f s R) of native logits (B, K + 1, R, R) (palette mix, then alpha), the softmax
    computed only where it matters. The same pixels as the whole-image computation, to 8-bit precision:

        L = bilinear(logits, f R) + delta                        (delta at native pixel p, sub-pixel j,
                                                                  entry k: features[b, p] . weight[j, k])
        out = paint(bilinear(L, f s R))                          (s = ``second``; no resize when 1)

    ``delta`` is None or (features (B, R R, C), weight (f^2, K + 1, C)): the head's 1x1 output layer.
    With a second resize, L is made in full (K + 1 channels at f R: small) and is the level painted.
    A pixel of the painted level whose output pixels provably (bounds over its 3 x 3 neighbours, which
    bilinear mixes, and over its sub-pixels' delta) pick one palette entry by a logit lead past FLAT,
    and one side of the alpha threshold by more than FLAT, paints that entry (the rest weigh
    < 14 e^-12 < 0.03 / 255 there). Only the other pixels are upsampled and painted in full, each from
    its 3 x 3 neighbourhood, so the interpolation is the whole image's. Gathers read whole rows of
    pixel-major tensors (gathering columns is 20x slower on the CPU).

    ``encode`` (elementwise, e.g. ``imaging.to_8bit``) is applied to the painted values before the
    picture is put together: the result is ``encode`` of the float picture, in its dtype (8-bit: a
    quarter of the bytes to expand and copy). None keeps the floats.
    """
    B, K1, R, _ = logits.shape
    out = []
    for b in range(B):  # one avatar at a time (exports are batch 1)
        x, pal = logits[b], palette[b]
        rows = x.flatten(1).T.contiguous()  # (R R, K + 1): pixel-major
        d = (delta[0][b], delta[1]) if delta is not None else None
        if second > 1:  # the f-level logits in full, then the level to paint
            fine = _upsample_at(rows, R, f, torch.arange(R * R, device=x.device))  # (f^2, R R, K + 1)
            if d is not None:
                fine += (d[0] @ d[1].view(-1, d[1].shape[-1]).T).view(R * R, f * f, K1).transpose(0, 1)
            rows = fine.view(f, f, R, R, K1).permute(2, 0, 3, 1, 4).reshape(f * R * f * R, K1)  # raster order
            f, d, R = second, None, f * R
            x = rows.T.reshape(K1, R, R)
        out.append(_paint_level(x, rows, pal, f, d, encode or _floats))
    return torch.stack(out).permute(0, 3, 1, 2)  # (B, 4, f R, f R), channels-last memory


def _paint_level(x: torch.Tensor, rows: torch.Tensor, palette: torch.Tensor, s: int,
                 d: tuple[torch.Tensor, torch.Tensor] | None, encode: Encode) -> torch.Tensor:
    """RGBA (s H, s W, 4) of logits x (K + 1, H, W) (also as ``rows`` (H W, K + 1)) upsampled x s, plus
    d = (features (H W, C), weight (s^2, K + 1, C)) per sub-pixel when given; values through ``encode``."""
    K1, H, W = x.shape
    K = K1 - 1
    mix, alpha = x[:K], x[K:]  # (K, H, W), (1, H, W)
    won, lead, choice = _winner(mix)
    # lower bounds over every output pixel of a pixel: the winner's lead, the alpha's distance from 0
    lead, a_lo, a_hi = _min3(lead), _min3(alpha), _max3(alpha)  # bilinear mixes the 3x3
    if d is not None:  # the residual's bounds over each pixel's sub-pixels: (K + 1, H, W)
        d_lo, d_hi = _residual_bounds(d[0], d[1], H, W)
        rivals = torch.where(won, float("-inf"), d_hi[:K]).amax(0, keepdim=True)
        lead = lead + torch.where(won, d_lo[:K], float("inf")).amin(0, keepdim=True) - rivals
        a_lo, a_hi = a_lo + d_lo[K:], a_hi + d_hi[K:]
    sure = (_max3(choice) == _min3(choice)) & (lead > FLAT) & ((a_lo > FLAT) | (a_hi < -FLAT))  # (1, H, W)
    # the winner's RGBA: a row of (each entry, alpha 0 | 1) (2 K, 4): one row gather, 2x faster than index + cat
    opaque = torch.tensor([[0.0], [1.0]], dtype=x.dtype, device=x.device).repeat(K, 1)  # (2 K, 1)
    table = torch.cat([palette.repeat_interleave(2, 0), opaque], 1)
    flat = encode(table).index_select(0, (choice.flatten().long() * 2).add_((a_lo > FLAT).flatten()))  # (H W, 4)
    # each pixel its winner, s x s times: (H, s, W, s, 4), expanded along W, then whole rows along H (~2x faster)
    out = flat.view(H, W, 1, 4).expand(H, W, s, 4).contiguous().view(H, 1, W * s * 4).expand(H, s, W * s * 4)
    out = out.contiguous().view(H * s * W, s * 4)  # row y s W + i W + x: pixel (y, x)'s output row i
    busy = (~sure).flatten().nonzero()[:, 0]  # (n,) pixels to paint in full
    if busy.numel():
        z = _upsample_at(rows, W, s, busy).permute(2, 0, 1)  # (K + 1, s^2, n), a view
        if d is not None:  # the residual at the busy pixels, channel-first: added, the sum is contiguous
            z = torch.add((d[1].transpose(0, 1).reshape(-1, d[1].shape[-1]) @ d[0][busy].T).view(K1, s * s, -1), z)
        rgba = encode(_paint_columns(z.reshape(K1, -1), palette))  # (4, s^2 n)
        at = ((busy // W * s * W + busy % W)[None] + W * torch.arange(s, device=x.device)[:, None]).flatten()  # (s n,)
        out.index_copy_(0, at, rgba.view(4, s, s, -1).permute(1, 3, 2, 0).reshape(-1, s * 4))  # whole rows
    return out.view(s * H, s * W, 4)


def _residual_bounds(features: torch.Tensor, weight: torch.Tensor, H: int, W: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The residual's (min, max) over each pixel's sub-pixels, each (K + 1, H, W), of features (H W, C) and
    weight (s^2, K + 1, C). Made CHUNK pixels at a time, so each product is reduced while it is in the cache:
    1.8x faster than the whole (s^2, K + 1, H W) product, and the same numbers (a product of 2048 columns
    equals the whole one bit for bit here; below ~40 columns the CPU kernels round differently, which is
    why the busy pixels below are painted in one piece)."""
    s2, K1, C = weight.shape
    lo, hi = (torch.empty(K1, H * W, dtype=features.dtype, device=features.device) for _ in range(2))
    columns = features.T.contiguous()  # (C, H W): 1.5x faster a product than the transposed view
    for i in range(0, H * W, CHUNK):
        part = (weight.view(-1, C) @ columns[:, i:i + CHUNK]).view(s2, K1, -1)  # (s^2, K + 1, CHUNK)
        torch.amin(part, 0, out=lo[:, i:i + CHUNK])
        torch.amax(part, 0, out=hi[:, i:i + CHUNK])
    return lo.view(K1, H, W), hi.view(K1, H, W)


def _winner(mix: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Logits (K, H, W) -> (won (K, H, W): the winning entries, several on a tie; lead (1, H, W): the winner's
    lead over the runner-up, 0 on a tie; choice (1, H, W): the winning entry, the last of a tie).

    amax and masks (max with indices, topk and argmax are 4-100x slower), the masks counted as uint8:
    0.74x the time of float / int64 masks at 1024 px, where a running top-2 over the entries took 1.3-1.5x."""
    best = mix.amax(0, keepdim=True)
    won = mix == best
    lead = best - torch.where(won, float("-inf"), mix).amax(0, keepdim=True)
    won8 = won.view(torch.uint8)  # the same bytes
    count = torch.uint8 if mix.shape[0] < 256 else torch.int32  # the palette's entries and their indices fit
    lead.masked_fill_(won8.sum(0, keepdim=True, dtype=count) > 1, 0.0)  # a tie: no lead
    entry = torch.arange(mix.shape[0], dtype=count, device=mix.device)[:, None, None]
    return won, lead, (won8 * entry).amax(0, keepdim=True).to(mix.dtype)


def _floats(rgba: torch.Tensor) -> torch.Tensor:
    return rgba


def _paint_columns(z: torch.Tensor, palette: torch.Tensor) -> torch.Tensor:
    """``generator.paint`` of logits as columns: (K + 1, n) -> RGBA (4, n) (a softmax mix of the palette
    (K, 3), then alpha), as one small matmul rather than an einsum that copies the logits."""
    mix = torch.softmax(z[:-1], dim=0)  # (K, n)
    return torch.cat([palette.T @ mix, torch.sigmoid(z[-1:])])


def _upsample_at(rows: torch.Tensor, W: int, s: int, pixels: torch.Tensor) -> torch.Tensor:
    """Bilinear x s (align_corners False) of a pixel-major image ``rows`` (H W, C) at some of its pixels
    (flat indices (n,)): (s^2, n, C), the s x s output pixels of each, row-major; each from its 3 x 3
    neighbourhood, the edge repeated outside the image (as bilinear clamps)."""
    H = rows.shape[0] // W
    step = torch.arange(-1, 2, device=rows.device)
    ys = (pixels // W)[None] + step[:, None]  # (3, n)
    xs = (pixels % W)[None] + step[:, None]
    index = ys.clamp(0, H - 1)[:, None] * W + xs.clamp(0, W - 1)[None]  # (3, 3, n): the neighbours, row-major
    near = rows.index_select(0, index.flatten())  # (9 n, C)
    up = _bilinear_weights(s, rows.dtype, rows.device) @ near.view(9, -1)  # (s^2, n C)
    return up.view(s * s, -1, rows.shape[1])


def _bilinear_weights(s: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(s^2, 9): the weights of a pixel's 3 x 3 neighbourhood in its s x s output pixels (bilinear x s)."""
    w = torch.zeros(3, s, dtype=torch.float64)  # 1-D: neighbour (-1, 0, +1) x sub-pixel
    for j in range(s):
        o = (j + 0.5) / s - 0.5  # the sub-pixel's centre, in pixels from the pixel's centre
        w[1, j], w[0 if o < 0 else 2, j] = 1 - abs(o), abs(o)
    return torch.einsum("aj,bl->jlab", w, w).reshape(s * s, 9).to(dtype=dtype, device=device)


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


def upsample_logits(mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int,
                    encode: Encode | None = None) -> torch.Tensor:
    """Plain logit upsampling (no learned head): (mix, palette, alpha) at R px -> RGBA (B, 4, size, size)
    (values through ``encode``: see ``paint_sparse``)."""
    R = mix.shape[-1]
    if size % R:
        raise ValueError(f"export size {size} must be a whole multiple of the native {R} px")
    return paint_sparse(torch.cat([mix, alpha], dim=1), palette, size // R, encode=encode)


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
        precision, painted by ``paint_sparse`` (the softmax near edges only). Below factor x, area-reduced."""
        return self.export(mix, palette, alpha, size, _floats)

    def export(self, mix: torch.Tensor, palette: torch.Tensor, alpha: torch.Tensor, size: int,
               encode: Encode) -> torch.Tensor:
        """``encode(self(mix, palette, alpha, size))``, painted in encode's dtype (see ``paint_sparse``)."""
        R, f = mix.shape[-1], self.config.factor
        if size < f * R:
            return encode(_area_down(self(mix, palette, alpha, f * R), size))
        f, second = _factors(R, size, f)
        scale = self.log_sharpness[0 if second == 1 else 1].exp()  # the logits are linear in it: fold it in
        h = self.features(mix, palette, alpha).permute(0, 2, 3, 1).flatten(1, 2)  # (B, R R, C): a view
        h = torch.cat([h, torch.ones_like(h[..., :1])], dim=2)  # (B, R R, C + 1): the bias as a weight
        w = torch.cat([self.out.weight.flatten(1), self.out.bias[:, None]], dim=1) * scale  # ((K + 1) f^2, C + 1)
        w = w.view(mix.shape[1] + 1, f * f, -1).transpose(0, 1).contiguous()  # (f^2, K + 1, C + 1)
        delta = (h, w)  # delta[b, p, j, k] = h[b, p] . w[j, k]: pixel_shuffle's channel k f^2 + j at pixel p
        return paint_sparse(torch.cat([mix, alpha], dim=1) * scale, palette, f, delta, second, encode)


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

"""Latent controls as arithmetic on w: truncation, named slider directions, interpolation.

Only the style part of w (the first ``w_dim`` numbers) is moved; the colour part stays
what the person picked. Directions are GANSpace-style principal components of w around
its conditional centre (``Generator.mean_w``), so they change what the labels don't fix.
"""
from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import torch

SLIDER_RANGE = (-3.0, 3.0)       # in standard deviations of the data along a direction
TRUNCATION_RANGE = (0.0, 1.5)


@dataclass(frozen=True)
class Directions:
    names: list[str]
    vectors: torch.Tensor            # (D, w_dim), unit length
    scales: torch.Tensor             # (D,) standard deviation of w along each direction

    @classmethod
    def empty(cls, w_dim: int) -> "Directions":
        return cls([], torch.zeros(0, w_dim), torch.zeros(0))


def check_controls(truncation: object, sliders: object, directions: Directions) -> tuple[float, dict[str, float]]:
    """Validate the truncation and slider values; return them as floats."""
    lo, hi = TRUNCATION_RANGE
    if isinstance(truncation, bool) or not isinstance(truncation, (int, float)) or not math.isfinite(truncation) \
            or not lo <= truncation <= hi:
        raise ValueError(f"truncation must be a number from {lo} to {hi}, got {truncation!r}")
    if sliders is None:
        sliders = {}
    if not isinstance(sliders, Mapping):
        raise ValueError(f"sliders must be an object like {{\"{(directions.names or ['name'])[0]}\": 1.5}}, "
                         f"got {str(sliders)[:40]!r}")
    clean = {}
    lo, hi = SLIDER_RANGE
    for name, value in sliders.items():
        if name not in directions.names:
            raise ValueError(f"unknown slider {str(name)[:40]!r}; choose from: {', '.join(directions.names) or '(none)'}")
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value) \
                or not lo <= value <= hi:
            raise ValueError(f"slider {name} must be a number from {lo} to {hi}, got {value!r}")
        clean[name] = float(value)
    return float(truncation), clean


def apply_controls(w: torch.Tensor, w_mean: torch.Tensor, w_dim: int, truncation: float,
                   sliders: Mapping[str, float], directions: Directions) -> torch.Tensor:
    """Truncate the style part of w (B, w_dim + ...) towards w_mean, then move along directions."""
    style = w_mean[:, :w_dim] + truncation * (w[:, :w_dim] - w_mean[:, :w_dim])
    for name, value in sliders.items():
        i = directions.names.index(name)
        style = style + value * directions.scales[i] * directions.vectors[i].to(style)
    return torch.cat([style, w[:, w_dim:]], dim=1)


def interpolate(w0: torch.Tensor, w1: torch.Tensor, t: float) -> torch.Tensor:
    """Straight line in w, colours included."""
    return torch.lerp(w0, w1, t)


@torch.no_grad()
def principal_directions(residuals: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Top-k principal axes (k, w_dim) and their standard deviations of centred residuals (N, w_dim)."""
    residuals = residuals - residuals.mean(0, keepdim=True)
    _, s, vh = torch.linalg.svd(residuals, full_matrices=False)
    return vh[:k].contiguous(), (s[:k] / math.sqrt(max(len(residuals) - 1, 1))).contiguous()


def _steered(color_layer: torch.nn.Linear, directions: Directions) -> tuple[int, torch.Tensor]:
    """The free colour the directions move most, and its logits' Jacobian (3, D) in slider units."""
    moves = directions.vectors * directions.scales[:, None]                      # (D, w_dim)
    n = color_layer.out_features // 3
    jac = (color_layer.weight @ moves.T.to(color_layer.weight)).view(n, 3, -1)    # (F, 3, D)
    slot = int(jac.flatten(1).norm(dim=1).argmax())
    return slot, jac[slot]


@torch.no_grad()
def steered_color(style: torch.Tensor, color_layer: torch.nn.Linear, directions: Directions) -> tuple[float, ...]:
    """The colour ``steer_color`` steers, as ``style`` (w_dim,) paints it now (RGB in [0, 1])."""
    slot, _ = _steered(color_layer, directions)
    return tuple(torch.sigmoid(color_layer(style[None].to(color_layer.weight))).view(-1, 3)[slot].tolist())


@torch.no_grad()
def steer_color(style: torch.Tensor, color_layer: torch.nn.Linear, directions: Directions,
                rgb: tuple[float, float, float]) -> dict[str, float]:
    """Slider values that bring a free palette colour as near to ``rgb`` as the sliders reach.

    The free colours are ``sigmoid(color_layer(style))`` (F colours, 3 channels each), and the sliders
    move ``style`` in a straight line, so in logit space a colour is linear in the slider values:
    ``logit = base + J v`` with ``J`` (3, D). The colour steered is the one the directions move most
    (on the shipped model: the colour of hats and glasses); least squares gives ``v``, clamped to the
    slider range and rounded to the sliders' 0.1 steps. ``style`` (w_dim,) is the design's own.
    """
    if not directions.names:
        raise ValueError("this model has no slider directions to steer a colour with")
    slot, jac = _steered(color_layer, directions)
    base = color_layer(style[None].to(color_layer.weight)).view(-1, 3)[slot]     # (3,) logits
    want = torch.logit(torch.tensor(rgb).clamp(0.02, 0.98).to(base))             # (3,)
    values = torch.linalg.lstsq(jac, (want - base)[:, None]).solution[:, 0]      # (D,)
    lo, hi = SLIDER_RANGE
    return {name: round(float(v.clamp(lo, hi)), 1) for name, v in zip(directions.names, values)}

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

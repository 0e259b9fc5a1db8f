"""Loss maths for the generator: paired reconstruction and style-code balance."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def premultiply(rgba: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) straight alpha -> premultiplied, so colour under alpha 0 costs nothing."""
    return torch.cat([rgba[:, :3] * rgba[:, 3:], rgba[:, 3:]], dim=1)


def reconstruction(fake: torch.Tensor, real: torch.Tensor, scales: int = 3) -> torch.Tensor:
    """L1 on premultiplied RGBA at full, 1/2 and 1/4 size (edges at full, shapes at coarse)."""
    a, b = premultiply(fake), premultiply(real)
    loss = F.l1_loss(a, b)
    for _ in range(scales - 1):
        a, b = F.avg_pool2d(a, 2), F.avg_pool2d(b, 2)
        loss = loss + F.l1_loss(a, b)
    return loss


def code_balance(logits: torch.Tensor) -> torch.Tensor:
    """log K - H(mean posterior) per code: 0 when the batch uses every class evenly.

    Sampling picks codes uniformly, so every class must be one the generator has learned.
    """
    q = torch.softmax(logits.float(), dim=-1).mean(0)  # (n_codes, K)
    entropy = -(q * torch.log(q + 1e-8)).sum(-1)
    return (math.log(logits.shape[-1]) - entropy).sum()

"""Loss maths: the generator's (paired reconstruction, palette choice, style-code balance) and the
export upsampler's gradient similarity (GMSD, also the export evaluation's metric)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F


def premultiply(rgba: torch.Tensor) -> torch.Tensor:
    """(B, 4, H, W) straight alpha -> premultiplied, so colour under alpha 0 costs nothing."""
    return torch.cat([rgba[:, :3] * rgba[:, 3:], rgba[:, 3:]], dim=1)


def detail_weights(real: torch.Tensor, detail: float) -> torch.Tensor:
    """(B, 1, H, W) per-pixel weights 1 + detail * edge strength (mean-normalised) of the real image.

    Small parts (eyes, mouth, glasses) are mostly edges, so they get their share of the loss.
    """
    p = premultiply(real)
    dx = (p[..., :, 1:] - p[..., :, :-1]).abs().sum(1, keepdim=True)
    dy = (p[..., 1:, :] - p[..., :-1, :]).abs().sum(1, keepdim=True)
    edge = F.pad(dx, (0, 1, 0, 0)) + F.pad(dy, (0, 0, 0, 1))  # (B, 1, H, W)
    edge = F.avg_pool2d(edge, 3, stride=1, padding=1)
    return 1 + detail * edge / edge.mean(dim=(1, 2, 3), keepdim=True).clamp_min(1e-6)


def reconstruction(fake: torch.Tensor, real: torch.Tensor, scales: int = 3, detail: float = 0.0) -> torch.Tensor:
    """L1 on premultiplied RGBA at full, 1/2 and 1/4 size (edges at full, shapes at coarse).

    With ``detail`` > 0 the full-size term weighs pixels by ``detail_weights``.
    """
    a, b = premultiply(fake), premultiply(real)
    if detail > 0:
        w = detail_weights(real, detail)
        loss = ((a - b).abs() * w).mean() / w.mean()
    else:
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


def palette_choice(logits: torch.Tensor, palette: torch.Tensor, real: torch.Tensor, fake: torch.Tensor,
                   near: float = 0.4, wrong: float = 0.3) -> torch.Tensor:
    """Cross-entropy of a wrongly painted pixel's palette mix against the palette colour nearest
    the real pixel.

    L1 alone cannot move a pixel whose softmax sits saturated on a wrong colour (a heart painted
    as skin): its gradient vanishes with the other colours' weights. This term's does not. It
    counts only opaque pixels that are painted wrong (RGB off by more than ``wrong``, L1 over the
    channels) and lie within ``near`` of some palette colour: shading blends that the mix gets
    right are left to the reconstruction loss, which would otherwise fight this one. Averaged over
    all opaque pixels, so each wrong pixel weighs the same however few there are.
    logits (B, K, R, R), palette (B, K, 3), real and fake straight RGBA (B, 4, R, R).

    Only the candidate pixels (opaque and painted wrong: a few percent once training is under way)
    are measured, gathered as rows: the same sums as over the whole (B, K, 3, R, R) distance
    tensor, 5x faster on a 2-core CPU with a third of the pixels wrong (and more as they get fewer).
    """
    alpha = real[:, 3]
    off = (fake.detach()[:, :3] - real[:, :3]).abs().sum(1)  # (B, R, R)
    b, y, x = ((alpha > 0) & (off > wrong)).nonzero(as_tuple=True)  # the candidates, N of them
    distance = (palette.detach()[b] - real[b, :3, y, x][:, None]).abs().sum(2)  # (N, K)
    nearest, target = distance.min(1)  # (N,) each
    ce = F.cross_entropy(logits[b, :, y, x].float(), target, reduction="none")  # (N,)
    return (ce * alpha[b, y, x] * (nearest < near)).sum() / alpha.sum().clamp_min(1.0)  # per opaque pixel


def critic_terms(critic: torch.nn.Module, fake: torch.Tensor, real: torch.Tensor,
                 index: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(feature distance, label cross-entropy) of ``fake`` as a frozen attribute classifier sees it.

    The critic is a ``train.classifier.AttributeClassifier`` trained on real renders (eval mode,
    no parameter gradients): its features of the fake and of the paired real image are compared
    by L1, and its heads must read the fake's labels (mean cross-entropy over the attributes).
    L1 on pixels forgives faint, low-contrast parts (eyes seen through dark glasses, a pale tear)
    that decide what the avatar shows; the critic's features do not.
    fake, real: straight RGBA (B, 4, R, R) in [0, 1]; index (B, A) label choices.
    """
    with torch.no_grad():
        f_real = critic(premultiply(real))[0]
    f_fake, logits, _ = critic(premultiply(fake))
    parts = critic.split(logits)
    ce = sum(F.cross_entropy(part.float(), index[:, a]) for a, part in enumerate(parts)) / len(parts)
    return (f_fake.float() - f_real.float()).abs().mean(), ce


GMS_C = 170 / 255 ** 2  # GMSD's stability constant (Xue et al. 2014: 170 on 0..255 values)


def gradient_similarity(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """GMSD's quality map of two RGB batches (B, 3, H, W) in 0..1: (B, 1, H/2, W/2), 1 = same edges.

    Luma, 2x2 mean and 2x down, Prewitt gradient magnitude, then (2 m1 m2 + c) / (m1^2 + m2^2 + c).
    GMSD is the map's standard deviation per image (``gmsd``)."""
    luma = torch.tensor([0.299, 0.587, 0.114], dtype=a.dtype, device=a.device).view(1, 3, 1, 1)
    k = torch.tensor([[1.0, 0.0, -1.0]] * 3, dtype=a.dtype, device=a.device) / 3  # Prewitt, x

    def magnitude(x: torch.Tensor) -> torch.Tensor:
        y = F.avg_pool2d((x * luma).sum(1, keepdim=True), 2)
        gx, gy = F.conv2d(y, k[None, None], padding=1), F.conv2d(y, k.T[None, None], padding=1)
        return (gx ** 2 + gy ** 2 + 1e-12).sqrt()  # the epsilon keeps the gradient of flat regions finite

    m1, m2 = magnitude(a), magnitude(b)
    return (2 * m1 * m2 + GMS_C) / (m1 ** 2 + m2 ** 2 + GMS_C)


def gmsd(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """(B,) GMSD of two RGB batches in 0..1 (0 = the same edges); differentiable (safe where flat)."""
    q = gradient_similarity(a, b).flatten(1)
    return (q.var(dim=1) + 1e-12).sqrt()

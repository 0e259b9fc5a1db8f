"""Posterior encoder (training only): image -> logits of the generator's discrete style codes.

The labels fix most of an avatar; what they leave out (hat colour, accessory colour, shirt
graphic) is read off the image by this encoder and handed to the generator as one-hot
style codes, so the reconstruction loss teaches the codes what the labels don't say.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn


class CodeEncoder(nn.Module):
    def __init__(self, n_codes: int, code_classes: int, width: int = 32, in_res: int = 64):
        super().__init__()
        self.n_codes, self.code_classes, self.in_res = n_codes, code_classes, in_res
        chans = [4, width, width * 2, width * 4, width * 4]
        layers: list[nn.Module] = []
        for a, b in zip(chans, chans[1:]):  # 64 -> 32 -> 16 -> 8 -> 4
            layers += [nn.Conv2d(a, b, 4, stride=2, padding=1), nn.LeakyReLU(0.2)]
        self.features = nn.Sequential(*layers)
        self.out = nn.Linear(chans[-1] * (in_res // 16) ** 2, n_codes * code_classes)

    def forward(self, rgba: torch.Tensor) -> torch.Tensor:
        """Straight-alpha RGBA (B, 4, R, R) in [0, 1] -> logits (B, n_codes, code_classes)."""
        x = torch.cat([rgba[:, :3] * rgba[:, 3:], rgba[:, 3:]], dim=1) * 2 - 1  # premultiplied
        if x.shape[-1] != self.in_res:
            x = F.interpolate(x, size=(self.in_res, self.in_res), mode="area")
        return self.out(self.features(x).flatten(1)).view(-1, self.n_codes, self.code_classes)

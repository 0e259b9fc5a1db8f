"""Sample grids of fixed conditions, written during training to watch progress."""
from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image

from avatar_studio.generator import Generator
from avatar_studio.imaging import tensor_to_images

GRID = 8


@torch.no_grad()
def save_sample_grid(generator: Generator, dataset, path: Path, rows: int = 2) -> None:
    """Top row(s): real images; below: the generator on the same labels with fixed seeds."""
    n = min(GRID * rows, len(dataset))  # a folder smaller than the grid fills what it can
    rows = -(-n // GRID)
    device = next(generator.parameters()).device
    images, index, rgb = dataset.batch(torch.arange(n))
    z = torch.stack([torch.randn(generator.config.z_dim, generator=torch.Generator().manual_seed(s))
                     for s in range(n)])
    fake = generator(z.to(device), index.to(device), rgb.to(device)).float().cpu()
    size = images.shape[-1]
    sheet = Image.new("RGBA", (GRID * size, 2 * rows * size), (235, 235, 235, 255))
    for offset, ims in ((0, tensor_to_images(images)), (GRID * rows, tensor_to_images(fake))):
        for i, im in enumerate(ims, offset):
            sheet.alpha_composite(im, ((i % GRID) * size, (i // GRID) * size))
    path.parent.mkdir(parents=True, exist_ok=True)
    sheet.save(path)

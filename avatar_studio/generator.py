"""The conditional generator: mapping (z, c) -> w, synthesis w -> RGBA.

Conditions c: one learned embedding per categorical attribute plus the colours as RGB.
The latent vector z (one ``torch.Generator`` per seed) resolves attributes left "any"
(see ``attributes.Vocabulary.resolve``) and picks ``n_codes`` discrete *style codes*:
the unlabelled parts of the artwork (hat colour, accessory colour, shirt graphic) are
discrete in the data, so the latent code is discrete too, which keeps them flat and clean.

    w = [mapping MLP(embeddings, style codes, colours) (w_dim) | classes | colours (3 x RGB)]

Carrying the classes (one-hot per attribute, with part templates) and the colours inside w
keeps "synthesis: w -> image" honest and makes interpolation of w interpolate both. The
synthesis network paints per pixel a mix of a small palette: the condition colours, a few
colours predicted from w, and learned constants (ink, paper, spares), plus alpha. Flat
artwork falls out of that head.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from avatar_studio.attributes import Vocabulary

@dataclass
class Architecture:
    """The generator's hyper-parameters: typed here once; a training run nests them
    (``train.train.TrainConfig.arch``) and config.json holds them flat."""
    n_codes: int = 3                 # discrete style codes for the unlabelled parts
    code_classes: int = 16
    embed_dim: int = 32
    w_dim: int = 256
    mapping_layers: int = 2
    # feature channels per resolution, from base_res up; a last transposed conv paints 2x that
    channels: list[int] = field(default_factory=lambda: [128, 96, 64, 32])
    free_colors: int = 4             # palette colours predicted from w
    # learned constant palette colours: ink, paper, then spares for fixed colours of the
    # artwork that no condition carries (hearts red, tear blue ...)
    const_colors: int = 2
    # part templates: one learned map per attribute class (classes carried in w), painted
    # straight onto the second resolution: a short path from a class to where its part sits
    template_channels: int = 0


@dataclass(kw_only=True)
class GeneratorConfig(Architecture):
    """config.json: the architecture plus what the data and the export fix."""
    vocabulary: dict                 # Vocabulary.to_dict(): names, choices, palettes, presets
    name: str = "avatar-studio"
    version: str = "0"
    resolution: int = 128
    base_res: int = 8
    # code bank: style-code tuples read off real training images (filled by train.export); a
    # seed picks one of them, so sampled codes are combinations the generator has learned
    code_bank: int = 0

    @property
    def vocab(self) -> Vocabulary:
        return Vocabulary.from_dict(self.vocabulary)

    @property
    def z_dim(self) -> int:
        """The attribute slices of z, then one slice of ``code_classes`` per style code."""
        return self.vocab.z_size + self.n_codes * self.code_classes

    @property
    def n_colors(self) -> int:
        return len(self.vocabulary["colors"])

    @property
    def class_width(self) -> int:
        """Width of the class part of w: every attribute's choices (0 without part templates)."""
        return sum(len(c) for c in self.vocab.categorical.values()) if self.template_channels else 0

    @property
    def template_res(self) -> int:
        return self.base_res * 2

    def __post_init__(self) -> None:
        self.vocabulary = Vocabulary.from_dict(self.vocabulary).to_dict()  # canonical, order-safe form
        if self.resolution != self.base_res * 2 ** len(self.channels):
            raise ValueError(f"resolution {self.resolution} must be base_res {self.base_res} "
                             f"x 2^len(channels) = {self.base_res * 2 ** len(self.channels)}")


# logits of the constant colours: ink, paper, then spares spread over the hue circle
CONST_INIT = [[-4.0, -4.0, -4.0], [4.0, 4.0, 4.0], [2.0, -2.0, -2.0], [-2.0, 0.0, 2.0], [2.0, 2.0, -2.0],
              [-2.0, 2.0, -2.0], [2.0, -2.0, 2.0], [-2.0, 2.0, 2.0]]


def const_color_init(n: int) -> torch.Tensor:
    """(n, 3) starting logits of the constant palette colours (grey beyond the listed ones)."""
    return torch.tensor(CONST_INIT[:n] + [[0.0, 0.0, 0.0]] * max(0, n - len(CONST_INIT)))


class FiLMConv(nn.Module):
    """3x3 conv whose output is scaled and shifted per channel by w."""

    def __init__(self, c_in: int, c_out: int, w_dim: int):
        super().__init__()
        self.conv = nn.Conv2d(c_in, c_out, 3, padding=1)
        self.film = nn.Linear(w_dim, 2 * c_out)
        nn.init.zeros_(self.film.weight)
        nn.init.zeros_(self.film.bias)

    def forward(self, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
        scale, shift = self.film(w)[:, :, None, None].chunk(2, dim=1)  # (B, C, 1, 1) each
        return F.leaky_relu(self.conv(x) * (1 + scale) + shift, 0.2)


class Generator(nn.Module):
    """The architecture only: files are ``avatar_studio.weights`` (checksums, strict load)."""

    def __init__(self, config: GeneratorConfig):
        super().__init__()
        self.config = config
        vocab = config.vocab
        self.embeddings = nn.ModuleDict({
            name: nn.Embedding(len(choices), config.embed_dim) for name, choices in vocab.categorical.items()})
        self.code_embedding = nn.Parameter(torch.randn(config.n_codes, config.code_classes, config.embed_dim))
        c_in = config.embed_dim * (len(vocab.categorical) + config.n_codes) + 3 * config.n_colors
        layers: list[nn.Module] = []
        for i in range(config.mapping_layers):
            layers += [nn.Linear(c_in if i == 0 else config.w_dim, config.w_dim), nn.LeakyReLU(0.2)]
        self.mapping_net = nn.Sequential(*layers)

        ch = config.channels
        self.base = nn.Linear(config.w_dim, ch[0] * config.base_res ** 2)
        self.base_conv = FiLMConv(ch[0], ch[0], config.w_dim)
        self.ups = nn.ModuleList(nn.ConvTranspose2d(a, b, 4, stride=2, padding=1) for a, b in zip(ch, ch[1:]))
        self.convs = nn.ModuleList(FiLMConv(b, b, config.w_dim) for b in ch[1:])
        self.n_mix = config.n_colors + config.free_colors + config.const_colors
        self.head = nn.ConvTranspose2d(ch[-1], self.n_mix + 1, 4, stride=2, padding=1)  # palette logits + alpha
        self.free_color = nn.Linear(config.w_dim, 3 * config.free_colors)
        self.const_color = nn.Parameter(const_color_init(config.const_colors))
        if config.template_channels:
            t = config.template_channels
            self.templates = nn.Parameter(torch.randn(config.class_width, t * config.template_res ** 2) * 0.1)
            self.template_bias = nn.Parameter(torch.zeros(t * config.template_res ** 2))
            self.template_proj = nn.Conv2d(t, ch[1], 1)
            nn.init.zeros_(self.template_proj.weight)  # starts as a no-op: warm starts keep their function
            nn.init.zeros_(self.template_proj.bias)
        if config.code_bank:
            self.register_buffer("code_bank", torch.zeros(config.code_bank, config.n_codes, dtype=torch.long))

    # ---- mapping ------------------------------------------------------------------------
    def codes_from_z(self, z: torch.Tensor) -> torch.Tensor:
        """(B, z_dim) -> one-hot style codes (B, n_codes, code_classes).

        With a code bank, the first number of the code slice picks a bank entry uniformly
        (normal CDF); without, each code is the argmax of its own slice (uniform classes).
        """
        cfg = self.config
        part = z[:, -cfg.n_codes * cfg.code_classes:]
        if cfg.code_bank:
            u = 0.5 * (1 + torch.erf(part[:, 0].double() / math.sqrt(2)))
            classes = self.code_bank[(u * cfg.code_bank).long().clamp(0, cfg.code_bank - 1)]  # (B, n_codes)
        else:
            classes = part.view(-1, cfg.n_codes, cfg.code_classes).argmax(-1)
        return F.one_hot(classes, cfg.code_classes).to(z.dtype)

    def mapping_codes(self, codes: torch.Tensor, index: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """codes (B, n_codes, K) one-hot or soft, index (B, A), rgb (B, C, 3) -> w.

        w = [style (w_dim) | classes (class_width: one-hot per attribute, with part templates) | colours (3C)]
        """
        parts = [emb(index[:, i]) for i, emb in enumerate(self.embeddings.values())]  # A x (B, E)
        codes_e = torch.einsum("bnk,nke->bne", codes, self.code_embedding).flatten(1)  # (B, n*E)
        colours = rgb.flatten(1)  # (B, 3C)
        style = self.mapping_net(torch.cat(parts + [codes_e, colours * 2 - 1], dim=1))  # (B, w_dim)
        classes = [F.one_hot(index[:, i], emb.num_embeddings).to(style)
                   for i, emb in enumerate(self.embeddings.values())] if self.config.template_channels else []
        return torch.cat([style, *classes, colours], dim=1)

    def mapping(self, z: torch.Tensor, index: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self.mapping_codes(self.codes_from_z(z), index, rgb)

    def mean_w(self, index: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        """w averaged over the style codes, for these conditions: the centre of truncation."""
        cfg = self.config
        if cfg.code_bank:
            mean = F.one_hot(self.code_bank, cfg.code_classes).float().mean(0)  # bank frequencies
        else:
            mean = torch.full((cfg.n_codes, cfg.code_classes), 1.0 / cfg.code_classes)
        codes = mean.to(rgb).expand(index.shape[0], -1, -1)
        return self.mapping_codes(codes, index, rgb)

    # ---- synthesis ----------------------------------------------------------------------
    def synthesis(self, w: torch.Tensor) -> torch.Tensor:
        """w (B, w_dim [+ class_width] + 3C) -> straight-alpha RGBA (B, 4, R, R) in [0, 1]."""
        return paint(*self.palette_synthesis(w))

    def palette_synthesis(self, w: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """w -> (mix logits (B, n_mix, R, R), palette (B, n_mix, 3), alpha logits (B, 1, R, R)).

        Training reads the mix logits too (``train.losses.palette_choice``); ``paint`` turns the
        three into the image.
        """
        cfg = self.config
        style, colours = w[:, :cfg.w_dim], w[:, -3 * cfg.n_colors:].view(-1, cfg.n_colors, 3)
        B = w.shape[0]
        x = F.leaky_relu(self.base(style), 0.2).view(B, cfg.channels[0], cfg.base_res, cfg.base_res)
        # channels-last activations: the convolutions run faster in it on the CPU (same maths)
        x = self.base_conv(x.contiguous(memory_format=torch.channels_last), style)  # (B, C0, base, base)
        for i, (up, conv) in enumerate(zip(self.ups, self.convs)):
            h = F.leaky_relu(up(x), 0.2)  # doubles the side
            if i == 0 and cfg.template_channels:
                h = h + self.template_proj(self.part_templates(w[:, cfg.w_dim:cfg.w_dim + cfg.class_width]))
            x = conv(h, style)
        out = self.head(x)  # (B, n_mix + 1, R, R): the last doubling
        palette = torch.cat([
            colours,
            torch.sigmoid(self.free_color(style)).view(B, cfg.free_colors, 3),
            torch.sigmoid(self.const_color).expand(B, cfg.const_colors, 3),
        ], dim=1)  # (B, n_mix, 3)
        return out[:, :self.n_mix], palette, out[:, self.n_mix:]

    def part_templates(self, classes: torch.Tensor) -> torch.Tensor:
        """Class weights (B, class_width) -> their mix of template maps (B, T, 2 base, 2 base).

        Only the maps of classes in use are read: a batch-1 avatar reads one map per attribute,
        not the whole table (the product is the same; the table is most of what it would read).
        """
        cfg = self.config
        used = classes.any(0).nonzero().squeeze(1)  # (K,)
        t = classes[:, used] @ self.templates[used] + self.template_bias  # (B, T * (2 base)^2)
        return t.view(-1, cfg.template_channels, cfg.template_res, cfg.template_res)

    def forward(self, z: torch.Tensor, index: torch.Tensor, rgb: torch.Tensor) -> torch.Tensor:
        return self.synthesis(self.mapping(z, index, rgb))


def paint(logits: torch.Tensor, palette: torch.Tensor, alpha_logit: torch.Tensor) -> torch.Tensor:
    """Each pixel a softmax mix of the palette, plus alpha -> straight-alpha RGBA (B, 4, R, R)."""
    mix = torch.softmax(logits, dim=1)  # (B, n_mix, R, R)
    rgb = torch.einsum("bkhw,bkc->bchw", mix, palette)  # (B, 3, R, R)
    return torch.cat([rgb, torch.sigmoid(alpha_logit)], dim=1)

"""AvatarStudio: the one high-level API that the UI, the CLI and programs call.

    studio = AvatarStudio.from_pretrained()                 # shipped weights, no network
    img = studio.design({"hair": "bob", "hair_color": "#a55728"}, seed=42)   # PIL RGBA
    png = studio.render_png({"seed": 42, "spec": {"hair": "bob"}, "size": 512, "frame": "circle"})

A studio holds only read-only state (the model and its directions), so one instance
serves every user at once. Every request builds its own per-seed ``torch.Generator``.
"""
from __future__ import annotations

import io
import os
import zipfile
from dataclasses import replace
from pathlib import Path

import torch
from PIL import Image

from avatar_studio import controls, cpu, weights
from avatar_studio.attributes import Vocabulary
from avatar_studio.generator import Generator
from avatar_studio.imaging import finish, gif_bytes, png_bytes, svg_text, tensor_to_images
from avatar_studio.recipe import Design, Recipe, check_seed, parse_recipe
from avatar_studio.upsampler import Upsampler, has_upsampler, load_upsampler, upsample_logits

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "avatar-studio"
MAX_BATCH = 64
LIVE_SIZE = 256   # the designer's on-screen avatar (see render_live)
N_VARIATIONS = 8
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed file times in sticker packs


class AvatarStudio:
    def __init__(self, generator: Generator, directions: controls.Directions | None = None,
                 upsampler: Upsampler | None = None):
        """``upsampler``: the learned export head; None exports by plain logit upsampling."""
        cpu.warn_if_untuned(stacklevel=4)  # points at the caller of from_pretrained
        self.generator = generator.eval().requires_grad_(False)
        self.upsampler = upsampler.eval().requires_grad_(False) if upsampler is not None else None
        self.config = generator.config
        self.vocab: Vocabulary = generator.config.vocab
        self.directions = directions or controls.Directions.empty(self.config.w_dim)
        self.device = next(generator.parameters()).device

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None,
                        device: str | None = None) -> "AvatarStudio":
        """Load shipped weights (default), a local weights folder, or a Hub repo id.

        Only safetensors files are read, after their checksums; a Hub id is fetched with
        huggingface_hub (respecting HF_HUB_OFFLINE) and fails at once when offline.
        """
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if name_or_path is None:
            name_or_path = os.environ.get("AVATAR_STUDIO_WEIGHTS", DEFAULT_WEIGHTS)
        folder = weights.locate(name_or_path)
        generator, directions = weights.load(folder, device=device)
        model_id = f"{generator.config.name}@{generator.config.version}"
        upsampler = load_upsampler(folder, model_id, generator.n_mix, device=device) if has_upsampler(folder) else None
        return cls(generator, directions, upsampler)

    # ---- what the model offers ----------------------------------------------------------
    @property
    def attributes(self) -> dict[str, list[str]]:
        """Categorical attribute -> choices (a copy; the model's own vocabulary)."""
        return {k: list(v) for k, v in self.vocab.categorical.items()}

    @property
    def colors(self) -> list[str]:
        return list(self.vocab.colors)

    @property
    def palettes(self) -> dict[str, list[str]]:
        return {k: list(v) for k, v in self.vocab.palettes.items()}

    @property
    def sliders(self) -> list[str]:
        return list(self.directions.names)

    @property
    def expressions(self) -> dict[str, dict[str, str]]:
        """Preset name -> the attributes it sets (a copy; from the model's vocabulary)."""
        return {k: dict(v) for k, v in self.vocab.expressions.items()}

    @property
    def model_id(self) -> str:
        return f"{self.config.name}@{self.config.version}"

    @property
    def resolution(self) -> int:
        return self.config.resolution

    # ---- latent code --------------------------------------------------------------------
    def latent(self, seed: int) -> torch.Tensor:
        """z (z_dim,) of a seed: its own generator, so it never depends on the batch."""
        gen = torch.Generator().manual_seed(check_seed(seed))
        return torch.randn(self.config.z_dim, generator=gen)

    def resolve(self, spec: dict, seed: int) -> dict[str, str]:
        """The full spec the seed makes of ``spec``: every "any" replaced by the latent's choice."""
        return self.vocab.resolve(self.vocab.validate(spec), self.latent(seed))

    # ---- checking: once, at the boundary --------------------------------------------------
    def check_design(self, design: Design) -> Design:
        """The design with its spec, truncation and sliders checked against this model (normalised:
        lower-case colours, "any" dropped)."""
        truncation, sliders = controls.check_controls(design.truncation, design.sliders, self.directions)
        return replace(design, spec=self.vocab.validate(design.spec), truncation=truncation, sliders=sliders)

    def check_recipe(self, recipe: dict | str | Recipe) -> Recipe:
        """Parse and validate a recipe against this model (spec, sliders, model name): the one check.

        The result is stamped as checked for this model, so passing it back to any method here
        checks nothing again. A recipe saved with another version of this model loads (its
        spec, seed and settings are the same choices; see ``version_note``); one for another
        model is refused.
        """
        r = recipe if isinstance(recipe, Recipe) else parse_recipe(recipe)
        if r.checked_for == self.model_id:
            return r
        if r.model is not None and r.model.split("@")[0] != self.config.name:
            raise ValueError(f"recipe is for model {r.model[:60]!r}, but {self.model_id!r} is loaded")
        return self._stamp(replace(r, design=self.check_design(r.design)))

    def _stamp(self, recipe: Recipe) -> Recipe:
        object.__setattr__(recipe, "checked_for", self.model_id)
        return recipe

    def version_note(self, recipe: Recipe) -> str | None:
        """A line for the user when a checked recipe was saved with another version of this model."""
        if recipe.model is None or recipe.model == self.model_id:
            return None
        return (f"This recipe was made with {recipe.model[:60]}; {self.model_id} is loaded: "
                f"the same choices, but the picture may differ.")

    # ---- pixels: checked designs in, no checks here -----------------------------------------
    @torch.inference_mode()
    def _w(self, designs: list[Design]) -> torch.Tensor:
        """w (B, w_dim + ...) of checked designs.

        Each avatar goes through the network alone (batch 1): float kernels may round differently
        at other batch sizes, and an avatar must not change with the company it is made in.
        """
        ws = []
        for d in designs:
            z = self.latent(d.seed)
            index, rgb = (t.to(self.device) for t in self.vocab.encode([self.vocab.resolve(d.spec, z)]))
            w = self.generator.mapping(z[None].to(self.device), index, rgb)
            if d.truncation != 1.0 or d.sliders:
                w = controls.apply_controls(w, self.generator.mean_w(index, rgb), self.config.w_dim,
                                            d.truncation, d.sliders, self.directions)
            ws.append(w)
        return torch.cat(ws)

    @torch.inference_mode()
    def _paint(self, w: torch.Tensor, size: int | None = None) -> list[Image.Image]:
        """Images of w (B, ...), one avatar at a time (see ``_w``), at the native size or at ``size``.

        Other sizes come from the generator's palette logits, through the learned upsampler when the
        weights have one (else plain logit upsampling): crisp edges, never an enlarged 128 px picture.
        """
        if size is None or size == self.resolution:
            return [tensor_to_images(self.generator.synthesis(w_i[None]).float())[0] for w_i in w]
        up = self.upsampler or upsample_logits
        return [tensor_to_images(up(*self.generator.palette_synthesis(w_i[None]), size).float())[0] for w_i in w]

    # ---- images -------------------------------------------------------------------------
    def design(self, spec: dict, seed: int, truncation: float = 1.0,
               sliders: dict[str, float] | None = None) -> Image.Image:
        """One avatar as a PIL RGBA image at the model's native size."""
        return self.design_batch([spec], [seed], truncation, sliders)[0]

    def design_batch(self, specs: list[dict], seeds: list[int], truncation: float = 1.0,
                     sliders: dict[str, float] | None = None) -> list[Image.Image]:
        """Many avatars; each image equals ``design(spec, seed)``. Every input is checked before
        the first avatar is painted."""
        specs, seeds = list(specs), list(seeds)
        if len(specs) != len(seeds):
            raise ValueError(f"specs and seeds must be the same length, got {len(specs)} and {len(seeds)}")
        if not 1 <= len(specs) <= MAX_BATCH:
            raise ValueError(f"a batch holds 1 to {MAX_BATCH} avatars, got {len(specs)}")
        designs = [self.check_design(Design(seed, spec, truncation, {} if sliders is None else sliders))
                   for spec, seed in zip(specs, seeds)]
        return self._paint(self._w(designs))

    # ---- recipes ------------------------------------------------------------------------
    def design_recipe(self, recipe: dict | str | Recipe) -> Image.Image:
        """The recipe's avatar at native size (before export size, background and frame)."""
        return self._paint(self._w([self.check_recipe(recipe).design]))[0]

    def render(self, recipe: dict | str | Recipe) -> Image.Image:
        """The finished export of a recipe: size, background, frame and border applied."""
        r = self.check_recipe(recipe)
        return finish(self._paint(self._w([r.design]), r.size)[0], r.export)

    def render_png(self, recipe: dict | str | Recipe) -> bytes:
        return png_bytes(self.render(recipe))

    def render_live(self, recipe: dict | str | Recipe, size: int = LIVE_SIZE) -> Image.Image:
        """What the designer shows while you edit: the native pixels enlarged (Lanczos) to at most
        ``size``, with the recipe's background, frame and border; no upsampler, so a fraction of
        ``render``'s time at 512 px and up. At sizes up to ``size`` it is ``render`` itself."""
        r = self.check_recipe(recipe)
        if r.size <= size:
            return self.render(r)
        return finish(self._paint(self._w([r.design]))[0], replace(r.export, size=size))

    def render_svg(self, recipe: dict | str | Recipe) -> str:
        """The finished export traced to vector paths (SVG text, viewBox of the recipe's size)."""
        return svg_text(self.render(recipe))

    def full_recipe(self, recipe: dict | str | Recipe) -> Recipe:
        """The recipe with every "any" in its spec resolved and the model id filled in."""
        r = self.check_recipe(recipe)
        full = replace(r.design, spec=self.vocab.resolve(r.spec, self.latent(r.seed)))
        return self._stamp(replace(r, design=full, model=self.model_id))

    # ---- exploring ----------------------------------------------------------------------
    def variations(self, recipe: dict | str | Recipe, locked: list[str],
                   n: int = N_VARIATIONS) -> list[tuple[Recipe, Image.Image]]:
        """n avatars that keep the ``locked`` attributes (as the recipe shows them) and vary the rest."""
        r = self.full_recipe(recipe)
        bad = [k for k in locked if k not in self.vocab.names]
        if bad:
            raise ValueError(f"unknown attribute {str(bad[0])[:40]!r} to lock; choose from: {', '.join(self.vocab.names)}")
        base = {k: v for k, v in r.spec.items() if k in locked}
        seeds = [(r.seed * 1_000_003 + 7_919 * (i + 1)) % (2**31) for i in range(n)]
        out = [self._stamp(replace(r, design=replace(r.design, seed=seed, spec=self.vocab.resolve(base, self.latent(seed)))))
               for seed in seeds]
        return list(zip(out, self._paint(self._w([v.design for v in out]))))

    def preview(self, recipe: dict | str | Recipe, attribute: str) -> list[tuple[str, Image.Image]]:
        """Every choice of one categorical attribute on the recipe's current face."""
        if attribute not in self.vocab.categorical:
            raise ValueError(f"unknown attribute {str(attribute)[:40]!r} to preview; "
                             f"choose from: {', '.join(self.vocab.categorical)}")
        r = self.full_recipe(recipe)
        choices = self.vocab.categorical[attribute]
        designs = [replace(r.design, spec={**r.spec, attribute: c}) for c in choices]
        return list(zip(choices, self._paint(self._w(designs))))

    def sticker_pack(self, recipe: dict | str | Recipe) -> bytes:
        """A ZIP of PNGs: the recipe's face in every expression preset, exported as the recipe says."""
        r = self.full_recipe(recipe)
        presets = self.vocab.expressions
        images = self._paint(self._w([replace(r.design, spec={**r.spec, **parts}) for parts in presets.values()]),
                             r.size)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, im in zip(presets, images):
                entry = zipfile.ZipInfo(f"{name.replace(' ', '-')}.png", date_time=ZIP_TIME)  # same recipe, same bytes
                zf.writestr(entry, png_bytes(finish(im, r.export)), zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    def morph(self, recipe_a: dict | str | Recipe, recipe_b: dict | str | Recipe, frames: int = 16) -> bytes:
        """An animated GIF that walks w from one recipe to the other and back (export settings of the first)."""
        if not 2 <= frames <= 64:
            raise ValueError(f"frames must be from 2 to 64, got {frames!r}")
        a, b = self.check_recipe(recipe_a), self.check_recipe(recipe_b)
        w0, w1 = self._w([a.design]), self._w([b.design])
        ts = [i / (frames - 1) for i in range(frames)]
        w = torch.cat([controls.interpolate(w0, w1, t) for t in ts + ts[-2:0:-1]])
        export = replace(a.export, size=min(a.size, 256))
        return gif_bytes([finish(im, export) for im in self._paint(w, export.size)])

"""AvatarStudio: the one high-level API that the UI, the CLI and programs call.

    studio = AvatarStudio.from_pretrained()                 # shipped weights, no network
    img = studio.design({"hair": "bob", "hair_color": "#a55728"}, seed=42)   # PIL RGBA
    png = studio.render_png({"seed": 42, "spec": {"hair": "bob"}, "size": 512, "frame": "circle"})

A studio holds only read-only state (the model and its directions), so one instance
serves every user at once. Every request builds its own per-seed ``torch.Generator``.

Art styles: each style is its own weights folder (a generator like the first one, trained on
that DiceBear style): ``weights/avatar-studio`` draws "avataaars", and ``weights/<style>/``
beside it (``weights/big-smile``, ``weights/adventurer``, ``weights/micah``) the others; a
folder counts when its config's vocabulary names that style. ``spec["style"]`` picks one
(default "avataaars": a spec without it is drawn as before, byte for byte); ``studio.styles``
lists those loaded, and ``studio.restyle(spec, style)`` carries a person to another style
(``avatar_studio.styles``). A recipe's spec carries its style, so share codes, PNG recipes,
sticker packs and the CLI carry it too.

    studio.design({"style": "big-smile", "hair": "bob"}, seed=42)   # ValueError: names big-smile's hairs
    studio.restyle({"hair": "bob", "accessories": "round"}, "big-smile")
    # {'style': 'big-smile', 'hair': 'braids', 'accessories': 'glasses'}
"""
from __future__ import annotations

import io
import os
import random
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from PIL import Image

from avatar_studio import controls, cpu, weights
from avatar_studio import styles as S
from avatar_studio.attributes import Vocabulary, hex_to_rgb, parse_color, rgb_to_hex
from avatar_studio.generator import Generator, GeneratorConfig
from avatar_studio.imaging import bytes_to_images, finish, gif_bytes, png_bytes, svg_text, tensor_to_images, to_8bit
from avatar_studio.recipe import Design, Recipe, check_seed, parse_recipe
from avatar_studio.upsampler import Upsampler, has_upsampler, load_upsampler, upsample_logits

DEFAULT_WEIGHTS = Path(__file__).resolve().parent.parent / "weights" / "avatar-studio"
MAX_BATCH = 64
LIVE_SIZE = 256   # the designer's on-screen avatar (see render_live)
N_VARIATIONS = 8
ZIP_TIME = (1980, 1, 1, 0, 0, 0)  # fixed file times in sticker packs


@dataclass(frozen=True)
class StyleModel:
    """One art style's weights: its generator, slider directions and export head (read-only)."""
    generator: Generator
    directions: controls.Directions
    upsampler: Upsampler | None

    @property
    def config(self) -> GeneratorConfig:
        return self.generator.config

    @property
    def vocab(self) -> Vocabulary:
        return self.generator.config.vocab

    @property
    def style(self) -> str:
        return self.generator.config.vocab.style_name

    @property
    def model_id(self) -> str:
        return f"{self.config.name}@{self.config.version}"

    @classmethod
    def load(cls, name_or_path: str | os.PathLike, device: str) -> "StyleModel":
        """A weights folder (or Hub id): every file checked, strict loads (avatar_studio.weights)."""
        folder = weights.locate(name_or_path)
        generator, directions = weights.load(folder, device=device)
        model_id = f"{generator.config.name}@{generator.config.version}"
        upsampler = load_upsampler(folder, model_id, generator.n_mix, device=device) if has_upsampler(folder) else None
        return cls(generator, directions, upsampler)


class AvatarStudio:
    def __init__(self, generator: Generator, directions: controls.Directions | None = None,
                 upsampler: Upsampler | None = None, others: tuple[StyleModel, ...] = ()):
        """``upsampler``: the learned export head; None exports by plain logit upsampling.
        ``others``: the models of further art styles (one per style; the first model's is the main one)."""
        cpu.warn_if_untuned(stacklevel=4)  # points at the caller of from_pretrained
        self.generator = generator.eval().requires_grad_(False)
        self.upsampler = upsampler.eval().requires_grad_(False) if upsampler is not None else None
        self.config = generator.config
        self.vocab: Vocabulary = generator.config.vocab
        self.directions = directions or controls.Directions.empty(self.config.w_dim)
        self.device = next(generator.parameters()).device
        self.models: dict[str, StyleModel] = {}
        for m in (StyleModel(self.generator, self.directions, self.upsampler), *others):
            if m.style in self.models:
                raise ValueError(f"two weights folders draw style {m.style!r}: load one per style")
            self.models[m.style] = replace(m, generator=m.generator.eval().requires_grad_(False))
        self.maps = {name: S.StyleMap.from_vocabulary(m.vocab.to_dict()) if m.vocab.identity else None
                     for name, m in self.models.items()}
        self._id = " + ".join(m.model_id for m in self.models.values())  # the checked-recipe stamp

    # ---- loading ------------------------------------------------------------------------
    @classmethod
    def from_pretrained(cls, name_or_path: str | os.PathLike | None = None, device: str | None = None,
                        styles: list[str | os.PathLike] | None = None) -> "AvatarStudio":
        """Load shipped weights (default), a local weights folder, or a Hub repo id.

        ``styles``: weights folders (or Hub ids) of further art styles; default: the style folders
        beside a local folder (``weights/<style>/``, see the module docstring), or inside a Hub repo
        made by ``avatar_studio.publish`` (``<style>/``); ``[]``: none.
        Only safetensors files are read, after their checksums; a Hub id is fetched with
        huggingface_hub (respecting HF_HUB_OFFLINE) and fails at once when offline.
        """
        device = device or ("cuda" if torch.cuda.is_available() else "cpu")
        if name_or_path is None:
            name_or_path = os.environ.get("AVATAR_STUDIO_WEIGHTS", DEFAULT_WEIGHTS)
        main = StyleModel.load(name_or_path, device)
        if styles is None:
            styles = weights.style_folders(weights.locate(name_or_path), exclude=main.style)
        return cls(main.generator, main.directions, main.upsampler,
                   others=tuple(StyleModel.load(s, device) for s in styles))

    # ---- art styles ---------------------------------------------------------------------
    @property
    def styles(self) -> list[str]:
        """The art styles this studio draws (those whose weights are loaded; the main one first)."""
        return list(self.models)

    def model(self, style: object = S.DEFAULT_STYLE) -> StyleModel:
        """The weights of one style; ValueError naming the styles on offer."""
        if not isinstance(style, str) or style not in self.models:
            raise ValueError(f"unknown style {str(style)[:40]!r}; choose one of: {', '.join(self.models)}")
        return self.models[style]

    def _split(self, spec: object) -> tuple[StyleModel, dict]:
        """A spec's style model (its "style" key, default avataaars) and the rest of the spec."""
        if not isinstance(spec, Mapping):
            raise ValueError(f"spec must be a JSON object like {{\"hair\": \"bob\"}}, got {str(spec)[:40]!r}")
        rest = dict(spec)
        return self.model(rest.pop("style", S.DEFAULT_STYLE)), rest

    def style_controls(self, style: str = S.DEFAULT_STYLE) -> dict[str, list[str]]:
        """A style's controls: categorical attribute -> choices, then each colour -> [] (a copy)."""
        vocab = self.model(style).vocab
        return {**{k: list(v) for k, v in vocab.categorical.items()}, **{c: [] for c in vocab.colors}}

    def restyle(self, spec: dict, style: str) -> dict:
        """The same person in another style: ``spec`` (its "style" key, default avataaars) carried to
        ``style`` by ``avatar_studio.styles.restyle`` (colours exactly; glasses, facial hair, mood and
        hair shape where the target has them; the rest left to the seed). ValueError for a style not
        loaded, or a control / choice the spec's style lacks (naming that style's controls)."""
        source, rest = self._split(spec)
        self.model(style)
        if any(m is None for m in self.maps.values()):
            lacking = [name for name, m in self.maps.items() if m is None]
            raise ValueError(f"the weights of style {lacking[0]} carry no identity tags: restyle needs them "
                             f"(record it once: python -m train.legacy OLD_FOLDER NEW_FOLDER)")
        S.check_controls(self.maps[source.style], rest)
        return S.restyle({"style": source.style, **source.vocab.validate(rest)}, style, self.maps)

    def restyle_recipe(self, recipe: dict | str | Recipe, style: str) -> Recipe:
        """The recipe's person in another style (its spec through ``restyle``, colours left "any" fixed to the
        ones its seed paints), checked: the seed, truncation and export stay; the sliders go (each style's
        generator has its own directions)."""
        r = self.check_recipe(recipe)
        spec = self._carried(r.design, style)
        sliders = r.sliders if self._split(r.spec)[0].style == style else {}
        return self.check_recipe(replace(r, design=replace(r.design, spec=spec, sliders=sliders), model=None))

    def _carried(self, design: Design, style: str) -> dict:
        """A design's spec carried to ``style`` by ``restyle``, its colours left "any" first fixed to the ones
        its seed paints: a face shown with blue hair keeps blue hair in the other style, whose generator, left
        to choose, would paint its own pick for the seed (the picker's thumbnails did). Within one style the
        spec is carried as it is."""
        model, _ = self._split(design.spec)
        if model.style == style:
            return self.restyle(design.spec, style)
        painted = {k: v for k, v in self.resolve(design.spec, design.seed).items() if k in model.vocab.colors}
        return self.restyle({**design.spec, **painted}, style)

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
    def latent(self, seed: int, style: str = S.DEFAULT_STYLE) -> torch.Tensor:
        """z (z_dim,) of a seed in a style: its own generator, so it never depends on the batch."""
        gen = torch.Generator().manual_seed(check_seed(seed))
        return torch.randn(self.model(style).config.z_dim, generator=gen)

    def resolve(self, spec: dict, seed: int) -> dict[str, str]:
        """The full spec the seed makes of ``spec``: every "any" replaced by the latent's choice
        (the "style" key kept where the spec names a style other than avataaars)."""
        model, rest = self._split(spec)
        return _styled(model.style, model.vocab.resolve(model.vocab.validate(rest), self.latent(seed, model.style)))

    def _resolved(self, design: Design) -> tuple[StyleModel, dict[str, str], torch.Tensor]:
        """A checked design's model, its full spec (no "style" key) and its z."""
        model, rest = self._split(design.spec)
        z = self.latent(design.seed, model.style)
        return model, model.vocab.resolve(rest, z), z

    # ---- checking: once, at the boundary --------------------------------------------------
    def check_design(self, design: Design) -> Design:
        """The design with its spec, truncation and sliders checked against its style's model (normalised:
        lower-case colours, "any" dropped, "style" only where it is not avataaars)."""
        model, rest = self._split(design.spec)
        truncation, sliders = controls.check_controls(design.truncation, design.sliders, model.directions)
        return replace(design, spec=_styled(model.style, model.vocab.validate(rest)), truncation=truncation,
                       sliders=sliders)

    def check_recipe(self, recipe: dict | str | Recipe) -> Recipe:
        """Parse and validate a recipe against this model (spec, sliders, model name): the one check.

        The result is stamped as checked for this model, so passing it back to any method here
        checks nothing again. A recipe saved with another version of this model loads (its
        spec, seed and settings are the same choices; see ``version_note``); one for another
        model is refused.
        """
        r = recipe if isinstance(recipe, Recipe) else parse_recipe(recipe)
        if r.checked_for == self._id:
            return r
        model, _ = self._split(r.spec)
        if r.model is not None and r.model.split("@")[0] != model.config.name:
            raise ValueError(f"recipe is for model {r.model[:60]!r}, but {model.model_id!r} is loaded"
                             + (f" for style {model.style}" if len(self.models) > 1 else ""))
        return self._stamp(replace(r, design=self.check_design(r.design)))

    def _stamp(self, recipe: Recipe) -> Recipe:
        object.__setattr__(recipe, "checked_for", self._id)
        return recipe

    def version_note(self, recipe: Recipe) -> str | None:
        """A line for the user when a checked recipe was saved with another version of its style's model."""
        model_id = self._split(recipe.spec)[0].model_id
        if recipe.model is None or recipe.model == model_id:
            return None
        return (f"This recipe was made with {recipe.model[:60]}; {model_id} is loaded: "
                f"the same choices, but the picture may differ.")

    # ---- pixels: checked designs in, no checks here -----------------------------------------
    @torch.inference_mode()
    def _w(self, designs: list[Design]) -> list[tuple[StyleModel, torch.Tensor]]:
        """Each checked design's style model and its w (1, w_dim + ...).

        Each avatar goes through the network alone (batch 1): float kernels may round differently
        at other batch sizes, and an avatar must not change with the company it is made in.
        """
        out = []
        for d in designs:
            model, full, z = self._resolved(d)
            g = model.generator
            index, rgb = (t.to(self.device) for t in model.vocab.encode([full]))
            w = g.mapping(z[None].to(self.device), index, rgb)
            if d.truncation != 1.0 or d.sliders:
                w = controls.apply_controls(w, g.mean_w(index, rgb), model.config.w_dim,
                                            d.truncation, d.sliders, model.directions)
            out.append((model, w))
        return out

    @torch.inference_mode()
    def _paint(self, ws: list[tuple[StyleModel, torch.Tensor]], size: int | None = None) -> list[Image.Image]:
        """Images of (model, w (1, ...)) pairs, one avatar at a time (see ``_w``), at the model's native size
        or at ``size``.

        Other sizes come from the generator's palette logits, through the learned upsampler when the
        weights have one (else plain logit upsampling): crisp edges, never an enlarged 128 px picture.
        """
        images = []
        for model, w in ws:
            if size is None or size == model.config.resolution:
                images.append(tensor_to_images(model.generator.synthesis(w).float())[0])
            else:
                logits = model.generator.palette_synthesis(w)  # painted straight to bytes: 4x less to move
                if model.upsampler is not None:
                    images.append(bytes_to_images(model.upsampler.export(*logits, size, to_8bit))[0])
                else:
                    images.append(bytes_to_images(upsample_logits(*logits, size, to_8bit))[0])
        return images

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
        model, spec, _ = self._resolved(r.design)
        return self._stamp(replace(r, design=replace(r.design, spec=_styled(model.style, spec)), model=model.model_id))

    @torch.inference_mode()
    def steer_color(self, recipe: dict | str | Recipe, color: str) -> dict[str, float]:
        """Slider values that turn the colour the slider directions move (on the shipped model: hats and
        glasses, which the vocabulary does not condition) as near to ``color`` as they reach, for this
        recipe's seed, spec and truncation. Set them as the recipe's sliders; another seed needs new ones."""
        r = self.check_recipe(recipe)
        rgb = hex_to_rgb(parse_color("colour", color))
        (model, w), = self._w([replace(r.design, sliders={})])
        return controls.steer_color(w[0, :model.config.w_dim], model.generator.free_color, model.directions, rgb)

    def steers(self, recipe: dict | str | Recipe) -> bool:
        """Whether ``steer_color`` has something to colour on this recipe's avatar: its style's generator has
        slider directions, its vocabulary a colour no control sets (avataaars: hats and glasses; big-smile and
        adventurer have none), and the face (every "any" resolved by the seed) wears a hat or glasses, the
        parts the shipped directions colour (train.evaluate_directions: 0.0% of pixels move on a face with
        neither). A vocabulary from before styles records neither: then the directions alone decide."""
        model, spec, _ = self._resolved(self.check_recipe(recipe).design)
        vocab, tags = model.vocab, self.maps.get(model.style)
        if not model.directions.names or not vocab.dicebear or tags is None:
            return bool(model.directions.names)
        unlabelled = set(vocab.dicebear.get("colors", {})) - set(vocab.colors)
        return bool(unlabelled) and S.wears_hat_or_glasses(tags, spec)

    @torch.inference_mode()
    def steered_color(self, recipe: dict | str | Recipe) -> str:
        """The colour ``steer_color`` steers, as the recipe (its sliders included) paints it ("#rrggbb")."""
        (model, w), = self._w([self.check_recipe(recipe).design])
        if not model.directions.names:
            raise ValueError("this model has no slider directions to steer a colour with")
        return rgb_to_hex(controls.steered_color(w[0, :model.config.w_dim], model.generator.free_color,
                                                 model.directions))

    # ---- exploring ----------------------------------------------------------------------
    def variations(self, recipe: dict | str | Recipe, locked: list[str],
                   n: int = N_VARIATIONS) -> list[tuple[Recipe, Image.Image]]:
        """n avatars that keep the ``locked`` attributes (as the recipe shows them) and vary the rest."""
        r = self.full_recipe(recipe)
        model, spec = self._split(r.spec)
        names = model.vocab.names
        bad = [k for k in locked if k not in names]
        if bad:
            raise ValueError(f"unknown attribute {str(bad[0])[:40]!r} to lock; choose from: {', '.join(names)}")
        base = {k: v for k, v in spec.items() if k in locked}
        seeds = [(r.seed * 1_000_003 + 7_919 * (i + 1)) % (2**31) for i in range(n)]
        out = [self._stamp(replace(r, design=replace(r.design, seed=seed, spec=_styled(
            model.style, model.vocab.resolve(base, self.latent(seed, model.style)))))) for seed in seeds]
        return list(zip(out, self._paint(self._w([v.design for v in out]))))

    def breed(self, recipe_a: dict | str | Recipe, recipe_b: dict | str | Recipe, from_a: list[str],
              from_b: list[str], n: int = N_VARIATIONS) -> list[tuple[Recipe, Image.Image]]:
        """n children of two designs. Each attribute named in ``from_a`` is as A shows it, each in ``from_b``
        as B shows it ("any" resolved by that parent's seed); every other one each child takes from A or
        from B at random (drawn from the child's own seed, which also draws what the labels leave open).
        Truncation, sliders and export settings are A's. The same parents give the same children."""
        a, b = self.full_recipe(recipe_a), self.full_recipe(recipe_b)
        (model, spec_a), (model_b, spec_b) = self._split(a.spec), self._split(b.spec)
        if model is not model_b:  # two vocabularies: parts of one do not fit the other
            raise ValueError(f"recipe A is in style {model.style} and recipe B in style {model_b.style}: a breed "
                             f"mixes within one style; restyle B first (studio.restyle(spec, {model.style!r}))")
        names = model.vocab.names
        for name, parts in (("from_a", from_a), ("from_b", from_b)):
            if not isinstance(parts, list) or not all(isinstance(k, str) for k in parts):
                raise ValueError(f"{name} must be a list of attribute names, e.g. [\"hair\", \"skin_color\"]")
            bad = [k for k in parts if k not in names]
            if bad:
                raise ValueError(f"unknown attribute {str(bad[0])[:40]!r} to take from {name[-1].upper()}; "
                                 f"choose from: {', '.join(names)}")
        both = [k for k in from_a if k in from_b]
        if both:
            raise ValueError(f"{both[0]} cannot come from both A and B; choose one of them (or neither, to mix)")
        seeds = [(a.seed * 1_000_003 + b.seed * 7_919 + 104_729 * (i + 1)) % (2**31) for i in range(n)]
        children = []
        for seed in seeds:
            coin = random.Random(seed)                  # the child's own draw; the global RNG is left alone
            spec = {k: (spec_a if k in from_a or (k not in from_b and coin.random() < 0.5) else spec_b)[k]
                    for k in names}
            spec = _styled(model.style, spec)
            children.append(self._stamp(replace(a, design=replace(a.design, seed=seed, spec=spec))))
        return list(zip(children, self._paint(self._w([c.design for c in children]))))

    def preview(self, recipe: dict | str | Recipe, attribute: str) -> list[tuple[str, Image.Image]]:
        """Every choice of one categorical attribute on the recipe's current face."""
        r = self.full_recipe(recipe)
        vocab = self._split(r.spec)[0].vocab
        if attribute not in vocab.categorical:
            raise ValueError(f"unknown attribute {str(attribute)[:40]!r} to preview; "
                             f"choose from: {', '.join(vocab.categorical)}")
        choices = vocab.categorical[attribute]
        designs = [replace(r.design, spec={**r.spec, attribute: c}) for c in choices]
        return list(zip(choices, self._paint(self._w(designs))))

    def sticker_pack(self, recipe: dict | str | Recipe, every_style: bool = False) -> bytes:
        """A ZIP of PNGs: the recipe's face (in its style) in every expression preset, exported as the
        recipe says. ``every_style``: also the same person in every other loaded style
        (``restyle``, with the colours the seed painted), in that style's presets, as ``<style>/<preset>.png``."""
        r = self.full_recipe(recipe)
        designs, names = self._stickers(r.design, "")
        if every_style:
            for style in self.styles:
                if style != self._split(r.spec)[0].style:
                    carried = replace(r.design, spec=self.check_design(replace(
                        r.design, spec=self._carried(r.design, style))).spec)
                    more, more_names = self._stickers(carried, f"{style}/")
                    designs, names = designs + more, names + more_names
        images = self._paint(self._w(designs), r.size)
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for name, im in zip(names, images):
                entry = zipfile.ZipInfo(name, date_time=ZIP_TIME)  # same recipe, same bytes
                zf.writestr(entry, png_bytes(finish(im, r.export)), zipfile.ZIP_DEFLATED)
        return buf.getvalue()

    def _stickers(self, design: Design, folder: str) -> tuple[list[Design], list[str]]:
        """A checked design in each of its style's expression presets, and their file names."""
        presets = self._split(design.spec)[0].vocab.expressions
        return ([replace(design, spec={**design.spec, **parts}) for parts in presets.values()],
                [f"{folder}{name.replace(' ', '-')}.png" for name in presets])

    def morph(self, recipe_a: dict | str | Recipe, recipe_b: dict | str | Recipe, frames: int = 16) -> bytes:
        """An animated GIF that walks w from one recipe to the other and back (export settings of the first)."""
        if not 2 <= frames <= 64:
            raise ValueError(f"frames must be from 2 to 64, got {frames!r}")
        a, b = self.check_recipe(recipe_a), self.check_recipe(recipe_b)
        (model, w0), (model_b, w1) = self._w([a.design, b.design])
        if model is not model_b:  # two generators, two w spaces: a walk between them has no meaning
            raise ValueError(f"recipe A is in style {model.style} and recipe B in style {model_b.style}: a morph "
                             f"walks within one style; restyle B first (studio.restyle(spec, {model.style!r}))")
        ts = [i / (frames - 1) for i in range(frames)]
        export = replace(a.export, size=min(a.size, 256))
        ws = [(model, controls.interpolate(w0, w1, t)) for t in ts + ts[-2:0:-1]]
        return gif_bytes([finish(im, export) for im in self._paint(ws, export.size)])


def _styled(style: str, spec: dict[str, str]) -> dict[str, str]:
    """A spec of this style: "style" first, left out for avataaars (so older recipes stay byte-identical)."""
    return spec if style == S.DEFAULT_STYLE else {"style": style, **spec}

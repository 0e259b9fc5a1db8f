"""Design avatars from the command line: one recipe, or a whole batch into a folder.

Examples:
    # one avatar from a recipe (the JSON the app exports); same pixels as the app's download
    python -m avatar_studio design --recipe my-avatar.json --out my-avatar.png
    python -m avatar_studio design --recipe my-avatar.json --out my-avatar.svg

    # 100 avatars with a bob haircut and random everything else, 256 px in a circle
    python -m avatar_studio batch --spec '{"hair": "bob"}' --seeds 0-99 --out out/bobs \\
        --size 256 --frame circle

    # every recipe of a JSONL file (one recipe per line), or every *.json recipe in a folder
    python -m avatar_studio batch --recipes team.jsonl --out out/team
    python -m avatar_studio batch --recipes recipes/ --out out/team --size 128

A recipe is one JSON object: {"seed": 42, "spec": {"hair": "bob", "hair_color": "#a55728"},
"size": 512, "frame": "circle", ...}; only "seed" and "spec" are required. A batch names its
files deterministically (seed-000042.png for --seeds, the line number 00003.png for a JSONL
file, the recipe's own name for a folder) and writes the full recipe, every "any" resolved,
next to each PNG (seed-000042.json), so `design --recipe seed-000042.json` redraws it.

    # the same person in another art style (colours, glasses, facial hair, mood and hair shape carry;
    # the rest comes from the seed): any recipe, or a --spec written in avataaars ids
    python -m avatar_studio design --recipe my-avatar.json --style big-smile --out me-big-smile.png
    python -m avatar_studio batch --spec '{"style": "micah", "hair": "pixie"}' --seeds 0-9 --out out/micah

--weights takes a weights folder or a Hub repo id (default: the shipped weights, or
$AVATAR_STUDIO_WEIGHTS). Bad input stops before anything is drawn, with one error line
and exit status 2.
"""
from __future__ import annotations

import argparse
import json
import os
import stat
import sys
from pathlib import Path

from avatar_studio.weights import WeightsError
from avatar_studio.pngrecipe import MAX_PNG_BYTES, recipe_in
from avatar_studio.recipe import MAX_RECIPE_BYTES, Recipe, check_seed, parse_recipe

PROG = "python -m avatar_studio"
MAX_SEEDS = 100_000
MAX_RECIPES = 100_000           # recipes of one --recipes file or folder
STYLE_HELP = ("draw the recipes' person in this art style (avataaars, or a style whose weights are beside "
              "--weights: weights/<style>/); colours, glasses, facial hair, mood and hair shape carry over")
EXPORT_FLAGS = ("size", "background", "frame", "border", "truncation", "sliders")


class CliError(Exception):
    """Bad input: reported as one line on stderr, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str):  # one line, no usage block
        raise CliError(f"{message} (see {self.prog} --help)")


# ---- reading input ------------------------------------------------------------------------
def _read_bytes(path: Path, what: str, limit: int) -> bytes:
    """A small file ('-': stdin), refusing huge ones before reading them whole."""
    if str(path) == "-":
        data = sys.stdin.buffer.read(limit + 1)
    else:
        if not path.is_file():
            raise CliError(f"{what} {str(path)[:200]!r} is not a file")
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    if len(data) > limit:
        raise CliError(f"{what} {str(path)[:200]} is too large (at most {limit} bytes)")
    return data


def _read_text(path: Path, what: str) -> str:
    """A small UTF-8 text file (a recipe)."""
    try:
        return _read_bytes(path, what, MAX_RECIPE_BYTES).decode("utf-8")
    except UnicodeDecodeError:
        raise CliError(f"{what} {str(path)[:200]} is not UTF-8 text") from None


def _read_recipe(path: Path) -> str:
    """Recipe JSON text from a .json file (or '-'), or from a PNG made by the studio (its tEXt chunk)."""
    if path.suffix.lower() != ".png":
        return _read_text(path, "recipe")
    return recipe_in(_read_bytes(path, "recipe", MAX_PNG_BYTES))


def _with_overrides(recipe: Recipe, overrides: dict) -> Recipe:
    return parse_recipe({**recipe.to_dict(), **overrides}) if overrides else recipe


def recipes_from_jsonl(path: Path, overrides: dict) -> list[tuple[str, str, Recipe]]:
    """(name, where, recipe) per non-blank line; the name is the line number."""
    items = []
    with open(path, "rb") as f:
        for number in range(1, 2**63):
            raw = f.readline(MAX_RECIPE_BYTES + 2)     # a line never read past the size limit
            if not raw:
                break
            where = f"{path}:{number}"
            if len(raw.rstrip(b"\r\n")) > MAX_RECIPE_BYTES:
                raise CliError(f"{where}: recipe is too large (at most {MAX_RECIPE_BYTES} bytes)")
            if len(items) == MAX_RECIPES:
                raise CliError(f"{path} holds more than {MAX_RECIPES} recipes; split the batch")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                raise CliError(f"{where}: not UTF-8 text") from None
            if not line.strip():
                continue
            try:
                items.append((f"{number:05d}", where, _with_overrides(parse_recipe(line), overrides)))
            except ValueError as e:
                raise CliError(f"{where}: {e}") from None
    return items


def recipes_from_folder(folder: Path, overrides: dict) -> list[tuple[str, str, Recipe]]:
    """(file stem, where, recipe) for every *.json file of the folder, in name order."""
    paths = []
    for path in folder.glob("*.json"):                  # every entry named *.json must be a recipe file
        try:
            regular = stat.S_ISREG(path.stat().st_mode)
        except OSError as e:                            # a dangling link, no permission
            raise CliError(f"{path}: cannot be read ({e.strerror})") from None
        if not regular:
            raise CliError(f"{path}: not a regular file (a folder, a pipe or a device); move it out of {folder}")
        if len(paths) == MAX_RECIPES:
            raise CliError(f"{folder} holds more than {MAX_RECIPES} recipes; split the batch")
        paths.append(path)
    items = []
    for path in sorted(paths):
        try:
            items.append((path.stem, str(path),
                          _with_overrides(parse_recipe(_read_text(path, "recipe")), overrides)))
        except ValueError as e:
            raise CliError(f"{path}: {e}") from None
    return items


def parse_seeds(text: str) -> list[int]:
    """'0-99', '7' or '1,5,10-20' -> seeds in order, each once."""
    seeds: dict[int, None] = {}
    for part in text.split(","):
        part = part.strip()
        lo, sep, hi = part.partition("-")
        try:
            first, last = (int(lo), int(hi)) if sep else (int(part), int(part))
            check_seed(first), check_seed(last)
        except ValueError:
            raise CliError(f"--seeds takes seeds from 0 to {2**31 - 1} like '0-99' or '1,5,10-20', "
                           f"got {text[:40]!r}") from None
        if last < first:
            raise CliError(f"--seeds range {part!r} runs backwards")
        if len(seeds) + last - first + 1 > MAX_SEEDS:
            raise CliError(f"--seeds asks for more than {MAX_SEEDS} avatars; split the batch")
        seeds.update(dict.fromkeys(range(first, last + 1)))
    return list(seeds)


def recipes_from_seeds(spec_text: str, seeds_text: str, overrides: dict) -> list[tuple[str, str, Recipe]]:
    if len(spec_text) > MAX_RECIPE_BYTES:
        raise CliError(f"--spec is too large (at most {MAX_RECIPE_BYTES} bytes)")
    spec = _flag_json("--spec", spec_text, "--spec '{\"hair\": \"bob\"}'")
    if not isinstance(spec, dict):
        raise CliError(f"--spec must be a JSON object like '{{\"hair\": \"bob\"}}', got {spec_text[:40]!r}")
    try:
        return [(f"seed-{seed:06d}", "", parse_recipe({"seed": seed, "spec": spec, **overrides}))
                for seed in parse_seeds(seeds_text)]
    except ValueError as e:
        raise CliError(str(e)) from None


def export_overrides(args: argparse.Namespace) -> dict:
    overrides = {k: getattr(args, k) for k in EXPORT_FLAGS if getattr(args, k) is not None}
    if "sliders" in overrides:
        overrides["sliders"] = _flag_json("--sliders", overrides["sliders"], "--sliders '{\"style 1\": 1.5}'")
    return overrides


def _flag_json(flag: str, text: str, example: str):
    """A flag's JSON value, or one clear CliError (also for nesting deeper than Python recurses)."""
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except RecursionError:
        raise CliError(f"{flag} is not valid JSON (nested too deeply); example: {example}") from None
    except ValueError as e:
        raise CliError(f"{flag} is not valid JSON ({e}); example: {example}") from None


def _reject_constant(name: str):
    raise ValueError(f"{name} is not a number JSON allows")


def printable(text: str) -> str:
    """One terminal line: control characters (escape codes, newlines) in echoed input shown as escapes."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


# ---- writing ------------------------------------------------------------------------------
def _write_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_bytes(data)
    os.replace(tmp, path)


def _load_studio(weights: str | None):
    from avatar_studio.studio import AvatarStudio
    return AvatarStudio.from_pretrained(weights)


def in_style(studio, recipe: Recipe, style: str | None) -> Recipe:
    """The recipe as it is (no --style), or its person carried to ``style`` (studio.restyle_recipe)."""
    return recipe if style is None else studio.restyle_recipe(recipe, style)


def cmd_design(args: argparse.Namespace) -> None:
    if args.out.suffix.lower() not in (".png", ".svg"):
        raise CliError(f"--out must name a .png file (or .svg: traced vector paths), got {str(args.out)[:200]!r}")
    try:
        recipe = parse_recipe(_read_recipe(args.recipe))
    except ValueError as e:
        raise CliError(f"{args.recipe}: {e}") from None
    studio = _load_studio(args.weights)
    try:
        recipe = in_style(studio, studio.check_recipe(recipe), args.style)
    except ValueError as e:
        raise CliError(f"{args.recipe}: {e}") from None
    note = studio.version_note(recipe)
    if note:
        print(printable(f"note: {args.recipe}: {note}"), file=sys.stderr)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    svg = args.out.suffix.lower() == ".svg"
    _write_atomic(args.out, studio.render_svg(recipe).encode() if svg else studio.render_png(recipe))
    print(args.out)


def cmd_batch(args: argparse.Namespace) -> None:
    from tqdm import tqdm

    overrides = export_overrides(args)
    if args.recipes is not None:
        if args.spec is not None:
            raise CliError("--spec goes with --seeds, not with --recipes")
        if args.recipes.is_dir():
            if args.out.exists() and args.out.resolve() == args.recipes.resolve():
                raise CliError("--out must be another folder than --recipes (the recipes would be overwritten)")
            items = recipes_from_folder(args.recipes, overrides)
        elif args.recipes.is_file():
            if args.recipes.suffix.lower() == ".json":
                raise CliError(f"--recipes takes a .jsonl file (one recipe per line) or a folder of .json "
                               f"recipes; for the one recipe in {args.recipes.name} use `design`")
            items = recipes_from_jsonl(args.recipes, overrides)
        else:
            raise CliError(f"--recipes {str(args.recipes)[:200]!r} is neither a file nor a folder")
        source = str(args.recipes)
    else:
        items = recipes_from_seeds(args.spec if args.spec is not None else "{}", args.seeds, overrides)
        source = "--spec"
    if not items:
        raise CliError(f"no recipes in {source}")

    studio = _load_studio(args.weights)
    checked = []
    for name, where, recipe in items:  # every recipe is checked before the first is drawn
        try:
            checked.append((name, in_style(studio, studio.check_recipe(recipe), args.style)))
        except ValueError as e:
            raise CliError(f"{where}: {e}" if where else str(e)) from None
    notes = sorted({studio.version_note(r) for _, r in checked} - {None})
    for note in notes:  # one line per other version, not one per recipe
        print(printable(f"note: {note}"), file=sys.stderr)

    args.out.mkdir(parents=True, exist_ok=True)
    for name, recipe in tqdm(checked, desc="design", unit="avatar"):
        _write_atomic(args.out / f"{name}.png", studio.render_png(recipe))
        full = studio.full_recipe(recipe).to_dict()
        _write_atomic(args.out / f"{name}.json", (json.dumps(full, indent=1) + "\n").encode())
    print(f"wrote {len(checked)} avatars to {args.out}")


def build_parser() -> argparse.ArgumentParser:
    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(prog=PROG, description=__doc__, formatter_class=fmt)
    sub = parser.add_subparsers(dest="command", required=True, metavar="{design,batch}")

    design = sub.add_parser("design", help="one avatar from a recipe", formatter_class=fmt,
                            description="Draw one recipe to a PNG, exactly as AvatarStudio.render_png.\n\n"
                                        "Example:\n    python -m avatar_studio design --recipe my-avatar.json "
                                        "--out my-avatar.png")
    design.add_argument("--recipe", type=Path, required=True, help="recipe JSON file ('-' reads stdin), or a PNG made by the studio (it carries its recipe)")
    design.add_argument("--out", type=Path, required=True,
                        help="PNG file to write (.svg: the same export traced to vector paths)")
    design.add_argument("--weights", default=None, help="weights folder or Hub repo id (default: shipped)")
    design.add_argument("--style", default=None, help=STYLE_HELP)
    design.set_defaults(run=cmd_design)

    batch = sub.add_parser("batch", help="many recipes or seeds into a folder", formatter_class=fmt,
                           description="Draw many avatars into a folder, a recipe JSON next to each PNG.\n\n"
                                       "Examples:\n"
                                       "    python -m avatar_studio batch --spec '{\"hair\": \"bob\"}' --seeds 0-99 "
                                       "--out out/bobs --size 256 --frame circle\n"
                                       "    python -m avatar_studio batch --recipes team.jsonl --out out/team\n"
                                       "    python -m avatar_studio batch --recipes recipes/ --out out/team")
    source = batch.add_mutually_exclusive_group(required=True)
    source.add_argument("--recipes", type=Path, help="JSONL file (one recipe per line) or folder of *.json recipes")
    source.add_argument("--seeds", help="seeds like 0-99 or 1,5,10-20 (with --spec)")
    batch.add_argument("--spec", default=None,
                       help="JSON object of attributes for every seed, e.g. '{\"hair\": \"bob\"}' (default: {})")
    batch.add_argument("--out", type=Path, required=True, help="folder to write NAME.png + NAME.json into")
    batch.add_argument("--weights", default=None, help="weights folder or Hub repo id (default: shipped)")
    batch.add_argument("--style", default=None, help=STYLE_HELP)
    export = batch.add_argument_group("export settings (override the recipes' own)")
    export.add_argument("--size", type=int, default=None, help="128, 256, 512 or 1024 (default 512)")
    export.add_argument("--background", default=None, help="'transparent' or '#rrggbb'")
    export.add_argument("--frame", default=None, help="none, circle or rounded")
    export.add_argument("--border", default=None, help="'none' or '#rrggbb'")
    export.add_argument("--truncation", type=float, default=None, help="0 to 1.5 (default 1)")
    export.add_argument("--sliders", default=None, help="JSON object, e.g. '{\"style 1\": 1.5}'")
    batch.set_defaults(run=cmd_batch)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    try:
        args = build_parser().parse_args(argv)
        args.run(args)
    except (CliError, ValueError, WeightsError) as e:
        print(printable(f"{PROG}: error: " + " ".join(str(e).split())), file=sys.stderr)
        return 2
    except OSError as e:
        print(printable(f"{PROG}: error: {e.strerror or e}: {e.filename or ''}".rstrip(": ")), file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    return 0

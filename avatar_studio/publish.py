"""Publish: the weights folder to a Hugging Face model repo, the app to a Space.

Example:
    huggingface-cli login        # or HF_TOKEN=...
    python -m avatar_studio.publish --model you/avatar-studio --space you/avatar-studio-app

1. Checks the weights folder, and the folder of each further art style the app would load with
   it (``weights/<style>/`` beside it), as the app would load them (checksums, strict load), and
   refuses a damaged one before anything is uploaded.
2. Creates the model repo if needed and uploads the folder (weights, checksums, model card)
   with huggingface_hub's upload API, which stores large files itself; each style's folder goes
   into the repo's folder of that name (``big-smile/config.json``, ...), where
   ``AvatarStudio.from_pretrained("<model repo>")`` finds and loads them.
3. Creates the Gradio Space if needed and uploads the app (app.py, requirements.txt, README.md
   with the Space's front matter, avatar_studio/, assets/), without the weights; then sets the
   Space variable AVATAR_STUDIO_WEIGHTS=<model repo>, so the app fetches them from the Hub
   (checksummed, as any Hub id).

HF_ENDPOINT picks another Hub (the tests point it at a stand-in on 127.0.0.1).
Errors are one line and exit status 2.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from avatar_studio import weights
from avatar_studio.studio import DEFAULT_WEIGHTS

PROG = "python -m avatar_studio.publish"
ROOT = Path(__file__).resolve().parent.parent
MODEL_FILES = [*weights.HUB_FILES, *(n for n in weights.UNCHECKED if n != weights.CHECKSUMS_FILE)]
SPACE_FILES = ["app.py", "requirements.txt", "README.md", "avatar_studio/*.py", "assets/*"]
WEIGHTS_VARIABLE = "AVATAR_STUDIO_WEIGHTS"


def publish(model_repo: str, space_repo: str | None, folder: Path = DEFAULT_WEIGHTS, token: str | None = None,
            private: bool = False, root: Path = ROOT) -> dict[str, str]:
    """Upload the weights with their art styles' (and the app, with ``space_repo``); returns the URLs of
    what was made, and the styles published."""
    from huggingface_hub import HfApi

    generator = weights.load_generator(folder)  # checksums + strict: never publish damaged weights
    model_id = f"{generator.config.name}@{generator.config.version}"
    styles = {path: weights.load_generator(path)           # every style checked before anything goes up
              for path in weights.style_folders(folder, exclude=generator.config.vocab.style_name)}
    api = HfApi(token=token)
    out = {"model": str(api.create_repo(model_repo, repo_type="model", private=private, exist_ok=True))}
    api.upload_folder(repo_id=model_repo, repo_type="model", folder_path=folder, allow_patterns=MODEL_FILES,
                      commit_message=f"{model_id}")
    for path, style in styles.items():
        api.upload_folder(repo_id=model_repo, repo_type="model", folder_path=path, path_in_repo=path.name,
                          allow_patterns=MODEL_FILES, commit_message=f"{path.name}: {style.config.name}@{style.config.version}")
    out["styles"] = ", ".join([generator.config.vocab.style_name, *(path.name for path in styles)])
    if space_repo:
        out["space"] = str(api.create_repo(space_repo, repo_type="space", space_sdk="gradio", private=private,
                                           exist_ok=True))
        api.upload_folder(repo_id=space_repo, repo_type="space", folder_path=root, allow_patterns=SPACE_FILES,
                          ignore_patterns=["**/__pycache__/**"], commit_message=f"Avatar Studio on {model_id}")
        api.add_space_variable(space_repo, WEIGHTS_VARIABLE, model_repo,
                               description="the weights the app loads (a Hub model repo)")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=PROG, description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="Hub model repo for the weights, e.g. you/avatar-studio")
    parser.add_argument("--space", default=None, help="Hub Space for the app, e.g. you/avatar-studio-app")
    parser.add_argument("--weights", type=Path, default=DEFAULT_WEIGHTS, help="weights folder (default: shipped)")
    parser.add_argument("--token", default=None, help="Hub token (default: HF_TOKEN or the saved login)")
    parser.add_argument("--private", action="store_true", help="create private repos")
    args = parser.parse_args(argv)
    try:
        for kind, url in publish(args.model, args.space, args.weights, args.token, args.private).items():
            print(f"{kind}: {url}")
    except weights.WeightsError as e:
        print(f"{PROG}: error: {e}", file=sys.stderr)
        return 2
    except Exception as e:  # the Hub's HTTP errors, a missing login, no network: one line
        print(f"{PROG}: error: {type(e).__name__}: " + " ".join(str(e).split())[:300], file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())

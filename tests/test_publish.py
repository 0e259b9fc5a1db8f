"""python -m avatar_studio.publish against a stand-in for the Hub on 127.0.0.1 (tests/hub_standin.py):
the real huggingface_hub client uploads over HTTP, and the app loads the published weights back."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from avatar_studio import weights
from tests.hub_standin import TOKEN, Hub

pytestmark = pytest.mark.server
ROOT = Path(__file__).resolve().parent.parent
RECIPE = '{"seed": 42, "spec": {"hair": "bob"}, "size": 128, "frame": "circle"}'
LOAD = "import sys; from avatar_studio import AvatarStudio; " \
       "sys.stdout.buffer.write(AvatarStudio.from_pretrained(sys.argv[1], device='cpu').render_png(sys.argv[2]))"


def run(hub: Hub, tmp_path: Path, *args: str, token: str | None = TOKEN) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("HF_")}
    env.update({"HF_ENDPOINT": hub.url, "HF_HOME": str(tmp_path / "hf-home"), "OMP_WAIT_POLICY": "PASSIVE",
                "HF_HUB_DISABLE_PROGRESS_BARS": "1", **({"HF_TOKEN": token} if token else {})})
    return subprocess.run([sys.executable, *args], env=env, cwd=ROOT, capture_output=True, timeout=300)


def test_publish_uploads_weights_and_app_and_the_app_loads_them_back(tiny_weights, studio, tmp_path):
    folder = tmp_path / "sharded"  # shards, as the shipped weights are
    shutil.copytree(tiny_weights, folder)
    weights.save_generator(weights.load_generator(tiny_weights), folder, max_shard_bytes=100 << 10)
    with Hub() as hub:
        r = run(hub, tmp_path, "-m", "avatar_studio.publish", "--model", "me/avatar-model", "--space", "me/avatar-app",
                "--weights", str(folder))
        assert r.returncode == 0, r.stderr.decode()[-3000:]
        assert f"model: {hub.url}/me/avatar-model" in r.stdout.decode()
        model = hub.repo("model", "me/avatar-model")["files"]
        local = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
        assert model == local, "every file of the folder, byte for byte"
        assert "model-00002-of-00002.safetensors" in model
        space = hub.repo("space", "me/avatar-app")
        assert space["sdk"] == "gradio"
        assert {"app.py", "requirements.txt", "README.md", "avatar_studio/studio.py", "avatar_studio/weights.py",
                "assets/labels.json"} <= set(space["files"])
        assert not [p for p in space["files"] if p.startswith(("weights/", "train/", "tests/", ".git"))
                    or "__pycache__" in p]
        assert space["files"]["app.py"] == (ROOT / "app.py").read_bytes()
        assert hub.variables["me/avatar-app"] == {"AVATAR_STUDIO_WEIGHTS": {"value": "me/avatar-model"}}
        # the app's way in: AVATAR_STUDIO_WEIGHTS=<hub id> -> checksummed download -> the same bytes
        loaded = run(hub, tmp_path, "-c", LOAD, "me/avatar-model", RECIPE)
        assert loaded.returncode == 0, loaded.stderr.decode()[-3000:]
        assert loaded.stdout == studio.render_png(RECIPE)


def test_publish_refuses_damaged_weights_and_a_missing_login(tiny_weights, tmp_path):
    damaged = tmp_path / "damaged"
    shutil.copytree(tiny_weights, damaged)
    (damaged / "config.json").write_text("{}")
    with Hub() as hub:
        r = run(hub, tmp_path, "-m", "avatar_studio.publish", "--model", "me/m", "--weights", str(damaged))
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and len(err.splitlines()) == 1 and "config.json is damaged" in err, err
        assert hub.repos == {}, "nothing uploaded"
        r = run(hub, tmp_path, "-m", "avatar_studio.publish", "--model", "me/m", "--weights", str(tiny_weights),
                token=None)
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and len(err.splitlines()) == 1 and "401" in err, err
        assert hub.repos == {}


LOAD_STYLES = "import sys; from avatar_studio import AvatarStudio; s = AvatarStudio.from_pretrained(sys.argv[1], " \
              "device='cpu'); print(','.join(s.styles)); sys.stdout.flush(); sys.stdout.buffer.write(s.render_png(sys.argv[2]))"


def test_publish_takes_the_style_folders_along_and_the_app_loads_every_style(two_styles, styled_studio, tmp_path):
    """weights/<style>/ beside the main folder goes to <style>/ in the model repo; from_pretrained(<repo>)
    loads every style from there, drawing the same pixels as the local folders."""
    recipe = '{"seed": 7, "spec": {"style": "big-smile", "hair": "bangs"}, "size": 128}'
    with Hub() as hub:
        r = run(hub, tmp_path, "-m", "avatar_studio.publish", "--model", "me/styles", "--weights", str(two_styles))
        assert r.returncode == 0, r.stderr.decode()[-3000:]
        assert "styles: avataaars, big-smile" in r.stdout.decode()
        files = hub.repo("model", "me/styles")["files"]
        local = {f"big-smile/{p.name}": p.read_bytes() for p in (two_styles.parent / "big-smile").iterdir()
                 if p.is_file()}
        assert {p: b for p, b in files.items() if p.startswith("big-smile/")} == local, "the style, byte for byte"
        assert "config.json" in files and not any(p.startswith(("tiny/", "data/", "runs/")) for p in files)
        loaded = run(hub, tmp_path, "-c", LOAD_STYLES, "me/styles", recipe)
        assert loaded.returncode == 0, loaded.stderr.decode()[-3000:]
        names, png = loaded.stdout.split(b"\n", 1)
        assert names.decode() == "avataaars,big-smile" and png == styled_studio.render_png(recipe)


def test_publish_refuses_a_damaged_style_folder_before_uploading_anything(two_styles, tmp_path):
    import shutil
    root = tmp_path / "weights"
    shutil.copytree(two_styles.parent, root)
    (root / "big-smile" / "directions.json").write_text('{"names": ["x"]}')      # no longer its checksum
    with Hub() as hub:
        r = run(hub, tmp_path, "-m", "avatar_studio.publish", "--model", "me/styles", "--weights", str(root / "tiny"))
        err = r.stderr.decode().strip()
        assert r.returncode == 2 and len(err.splitlines()) == 1 and "big-smile" in err, err
        assert hub.repos == {}, "nothing uploaded"

"""The launched app driven through gradio_client on 127.0.0.1: recipe in, PNG out."""
from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
from gradio_client import Client
from gradio_client.exceptions import AppError

from avatar_studio.serving import launch
from avatar_studio.ui import build_demo

pytestmark = pytest.mark.server  # the app over HTTP (gradio_client)

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def app_url(studio):
    demo = build_demo(studio)
    _, url, _ = launch(demo, server_name="127.0.0.1", server_port=free_port(), prevent_thread_lock=True, quiet=True)
    yield url
    demo.close()


@pytest.fixture(scope="module")
def client(app_url, tmp_path_factory) -> Client:
    return Client(app_url, verbose=False, analytics_enabled=False,
                  download_files=str(tmp_path_factory.mktemp("downloads")))


def test_only_the_two_named_endpoints_are_public(client):
    assert set(client.view_api(print_info=False, return_format="dict")["named_endpoints"]) == {"/design", "/variations"}


def test_recipe_in_png_out_same_bytes_every_time(client, studio):
    recipe = json.dumps({"seed": 42, "spec": {"hair": "bob"}, "size": 256, "frame": "circle", "border": "#223344"})
    first = Path(client.predict(recipe, api_name="/design")).read_bytes()
    second = Path(client.predict(recipe, api_name="/design")).read_bytes()
    assert first.startswith(b"\x89PNG\r\n\x1a\n")
    assert first == second == studio.render_png(recipe)


def test_bad_recipe_is_a_clean_error_and_the_next_request_still_works(client, studio):
    bad = [json.dumps({"seed": 42, "spec": {"hair": "bobb"}}), "{not json", json.dumps({"seed": 42}),
           json.dumps({"seed": 42, "spec": {}, "size": 100}), "x" * 50_000]
    for recipe in bad:
        with pytest.raises(AppError) as e:
            client.predict(recipe, api_name="/design")
        assert "Traceback" not in str(e.value) and len(str(e.value)) < 1000
    with pytest.raises(AppError, match="bobb"):
        client.predict(bad[0], api_name="/design")
    good = json.dumps({"seed": 3, "spec": {}, "size": 128})
    assert Path(client.predict(good, api_name="/design")).read_bytes() == studio.render_png(good)


def test_variations_endpoint(client, studio):
    recipe = json.dumps({"seed": 5, "spec": {"outfit": studio.attributes["outfit"][0]}})
    gallery, recipes = client.predict(recipe, ["outfit"], api_name="/variations")
    assert len(gallery) == len(recipes) == 8
    assert all(Path(item["image"]).read_bytes().startswith(b"\x89PNG") for item in gallery)
    assert all(r["spec"]["outfit"] == studio.attributes["outfit"][0] for r in recipes)
    with pytest.raises(AppError):
        client.predict(recipe, ["wings"], api_name="/variations")


def test_app_refuses_to_start_without_weights(tmp_path):
    missing = tmp_path / "no-weights"
    env = {**os.environ, "AVATAR_STUDIO_WEIGHTS": str(missing), "OMP_WAIT_POLICY": "PASSIVE"}
    out = subprocess.run([sys.executable, str(ROOT / "app.py")], env=env, cwd=tmp_path, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode != 0
    assert str(missing) in out.stderr


def test_no_file_outside_the_app_is_served_and_no_dashboard(app_url):
    import httpx
    base = app_url.rstrip("/")
    paths = ["/etc/passwd", str(ROOT / "app.py"), "../app.py", "app.py", str(ROOT / "assets" / "labels.json"),
             str(ROOT / "weights" / "avatar-studio" / "model-00001-of-00003.safetensors")]
    for path in paths:
        for route in ("/gradio_api/file=", "/file="):
            r = httpx.get(base + route + path)
            assert r.status_code >= 400, (route, path, r.status_code)
    assert httpx.get(base + "/monitoring").status_code >= 400

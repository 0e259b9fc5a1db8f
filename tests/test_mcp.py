"""``python app.py`` serves the design tool to LLM agents over MCP (Gradio's MCP extra), on 127.0.0.1."""
from __future__ import annotations

import asyncio
import base64
import importlib.util
import io
import json

import pytest
from PIL import Image

from tests.harness import Server

pytestmark = [pytest.mark.server,  # the app in a child process, over HTTP
              pytest.mark.skipif(importlib.util.find_spec("mcp") is None,
                                 reason='Gradio\'s MCP extra is not installed (pip install "gradio[mcp]==6.31.0")')]


async def list_and_call(url: str, recipe: str):
    from mcp import ClientSession
    from mcp.client.streamable_http import streamablehttp_client
    async with streamablehttp_client(url) as (read, write, _):
        async with ClientSession(read, write) as session:
            await session.initialize()
            tools = (await session.list_tools()).tools
            result = await session.call_tool("design", {"recipe": recipe})
            bad = await session.call_tool("design", {"recipe": '{"seed": 1, "spec": {"hair": "bobb"}}'})
    return tools, result, bad


def test_mcp_lists_the_design_tool_and_draws_a_png(tiny_weights, studio):
    recipe = json.dumps({"seed": 42, "spec": {}, "size": 128, "frame": "circle"})
    with Server(tiny_weights) as server:
        tools, result, bad = asyncio.run(asyncio.wait_for(list_and_call(server.url + "/gradio_api/mcp/", recipe), 120))
        output = server.output()
    by_name = {t.name: t for t in tools}
    assert set(by_name) == {"design", "variations"}, list(by_name)
    assert "recipe" in by_name["design"].inputSchema["properties"]
    assert "PNG" in by_name["design"].description
    images = [c for c in result.content if c.type == "image"]
    assert not result.isError and len(images) == 1 and images[0].mimeType == "image/png"
    png = base64.b64decode(images[0].data)
    assert png.startswith(b"\x89PNG\r\n\x1a\n")
    with Image.open(io.BytesIO(png)) as im:      # Gradio re-encodes the file: the same pixels
        assert im.size == (128, 128) and im.convert("RGBA").tobytes() == studio.render(recipe).tobytes()
    assert bad.isError and "bobb" in " ".join(c.text for c in bad.content if c.type == "text")
    assert "Traceback" not in output

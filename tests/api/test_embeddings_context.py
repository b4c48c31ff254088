"""Text longer than the context: embeddings answer 400 like generation does (not a silently cut 200)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.api.serving import Served, prepare_home, serve

LONG = "word " * 2000  # the tiny model's context is 512 tokens


@pytest.fixture(scope="module")
def served(api_home: Path, tiny_gguf: Path) -> Iterator[Served]:
    with serve(api_home, prepare_home(api_home, tiny_gguf)) as running:
        yield running


def post(served: Served, path: str, body: dict[str, object]) -> httpx.Response:
    return httpx.post(f"{served.url}/v1/{path}", json=body, timeout=60,
                      headers={"Authorization": f"Bearer {served.key}"})


def test_too_long_is_400_for_embeddings_as_for_generation(served: Served) -> None:
    chat = post(served, "chat/completions", {"model": "tiny", "messages": [{"role": "user", "content": LONG}]})
    embed = post(served, "embeddings", {"model": "tiny", "input": ["short", LONG]})
    for response in (chat, embed):
        assert response.status_code == 400, response.text
        assert response.json()["error"]["code"] == "context_length_exceeded"
    assert embed.json()["error"]["param"] == "input" and "input 1" in embed.json()["error"]["message"]


def test_text_within_the_window_still_embeds(served: Served) -> None:
    response = post(served, "embeddings", {"model": "tiny", "input": ["short", "word " * 50]})
    assert response.status_code == 200, response.text
    assert len(response.json()["data"]) == 2

"""The paired-server backend: the models of the organisation's Enclave appliances this desktop paired with.

A model here is called `SERVER/MODEL` (engine.pairing.remotes). Each request opens its own pinned
HTTPS connection (engine.pairing.client) and a producer thread turns the server's events into chunks
of a `QueueStream`; cancelling closes the connection, which makes the appliance stop generating. The
appliance applies its own key rules and keeps its own logs; the reply is stored here, in this
desktop's vault, like any other.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator, Mapping
from typing import Any

from engine.backends.base import ChatRequest, CompletionRequest, Embeddings, ModelRef, Stream
from engine.backends.stream import QueueStream
from engine.pairing.client import payload
from engine.pairing.remotes import RemoteServer, RemoteStore, split_model_id
from engine.runtime import CancelToken, Chunk, GenerationParams
from engine.vault.ports import SettingsVault

NAME = "remotes"
SERVED_BY = "remote"


def _body(openai: Mapping[str, Any] | None, params: GenerationParams, model: str) -> dict[str, Any]:
    """The request for the server: an API client's own (unset fields left out), or built from params."""
    body = dict(openai) if openai is not None else payload(params)
    body.pop("max_completion_tokens", None)
    body["max_tokens"] = params.max_tokens  # capped by this desktop's engine
    body["model"] = model
    return body


class RemoteBackend:
    """Every paired server's models, by `SERVER/MODEL`; nothing is contacted until a request is made."""

    name = NAME

    def __init__(self, vault: SettingsVault) -> None:
        self.vault = vault

    def _remote(self, name: str) -> tuple[RemoteServer, str] | None:
        parts = split_model_id(name)
        if parts is None:
            return None
        remote = next((r for r in RemoteStore(self.vault).list() if r.name == parts[0]), None)
        return (remote, parts[1]) if remote is not None else None

    @staticmethod
    def _ref(remote: RemoteServer, model: str) -> ModelRef:
        return ModelRef(remote.model_id(model), NAME, SERVED_BY, origin=remote.name)

    def models(self) -> list[ModelRef]:
        """Every model of every paired server, as each last listed them (no network)."""
        return [self._ref(r, m) for r in RemoteStore(self.vault).list() for m in r.models]

    def find(self, name: str) -> ModelRef | None:
        """`SERVER/MODEL` if SERVER is paired (the server itself says whether it still has MODEL)."""
        found = self._remote(name)
        return self._ref(*found) if found is not None else None

    def _target(self, model: ModelRef) -> tuple[RemoteServer, str]:
        found = self._remote(model.name)
        if found is None:
            from engine.errors import NotFoundError

            raise NotFoundError(f"the organisation server of model {model.name!r} was removed")
        return found

    def chat(self, model: ModelRef, request: ChatRequest) -> Stream:
        """Stream a chat reply from the server."""
        remote, name = self._target(model)
        body = _body(request.openai, request.params, name)
        if request.openai is None:
            body["messages"] = [dict(m) for m in request.messages]
        return self._stream(remote, model, "chat/completions", body)

    def complete(self, model: ModelRef, request: CompletionRequest) -> Stream:
        """Stream a plain continuation from the server."""
        remote, name = self._target(model)
        body = _body(request.openai, request.params, name)
        if request.openai is None:
            body["prompt"] = request.prompt
        return self._stream(remote, model, "completions", body)

    def _stream(self, remote: RemoteServer, model: ModelRef, path: str, body: dict[str, Any]) -> QueueStream:
        client = remote.client()
        cancel = CancelToken()
        try:
            # Connect and send now: an unreachable server, a changed certificate or a revoked key is
            # refused here, in the caller's thread, before anything is streamed.
            events: Iterator[Chunk] = client.stream(path, body, cancel)
        except BaseException:
            client.close()
            raise
        stream = QueueStream(model.name)
        stream.served_by = remote.name

        def pump() -> None:
            try:
                for chunk in events:
                    stream.put(chunk)
            except Exception as exc:  # noqa: BLE001 (handed to the consumer, who shows it)
                stream.put(exc)
            finally:
                client.close()
                stream.end()

        def stop() -> None:
            cancel.cancel()
            client.close()  # a read waiting for the next event ends now, not at the next token

        stream.on_cancel(stop)
        threading.Thread(target=pump, name=f"remote-{remote.name}", daemon=True).start()
        return stream

    def embed(self, model: ModelRef, texts: list[str]) -> Embeddings:
        """Embeddings from the server."""
        remote, name = self._target(model)
        with remote.client() as client:
            vectors, tokens = client.embed(name, texts)
        return Embeddings(vectors, tokens, served_by=remote.name)

    def close(self) -> None:
        """Nothing is held between requests."""

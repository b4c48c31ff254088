"""The upstream backend: models an administrator routed to the organisation's OpenAI-compatible servers.

Requests go out streamed (`stream_options.include_usage` asked for, so budgets can be charged from the
upstream's own count) over the pooled clients of one `Gateway`, which lives on this backend's own event
loop thread (started on first use). Each upstream event becomes a `Chunk` as it arrives (a
`QueueStream`), so a client of Enclave sees it before the upstream has finished. Cancelling the stream
closes the connection, which makes the upstream stop generating. When an upstream reports no usage, a
rough count stands in (characters / 4 for the prompt, one token per event), which beats charging nothing.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import math
import struct
import threading
from collections.abc import Callable, Coroutine, Mapping
from concurrent.futures import Future
from datetime import datetime
from typing import Any, TypeVar

import httpx

from engine.backends.base import ChatRequest, CompletionRequest, Embeddings, ModelRef, Stream
from engine.backends.stream import QueueStream
from engine.models.reasoning import THINK_CLOSE, THINK_OPEN
from engine.runtime import Chunk, GenerationParams, TokenLogprob, Usage
from engine.upstreams.config import Upstream, UpstreamStore
from engine.upstreams.errors import UpstreamError, UpstreamTimeout, scrub
from engine.upstreams.transport import Gateway, Opened, Target
from engine.vault.ports import SettingsVault

NAME = "upstreams"
MAX_REPLY_BYTES = 64 * 1024 * 1024  # a reply read whole (embeddings of many inputs)
MAX_EVENT_CHARS = 1024 * 1024  # one SSE line
CHARS_PER_TOKEN = 4
T = TypeVar("T")


def estimate_tokens(text: str) -> int:
    """A rough token count for text an upstream did not count."""
    return math.ceil(len(text) / CHARS_PER_TOKEN)


def _created(added_at: str) -> int:
    try:
        return int(datetime.fromisoformat(added_at).timestamp())
    except ValueError:
        return 0


def params_payload(params: GenerationParams) -> dict[str, Any]:
    """Sampling settings in OpenAI's names (for requests that did not come in OpenAI's shape)."""
    payload: dict[str, Any] = {"max_tokens": params.max_tokens, "temperature": params.temperature,
                               "top_p": params.top_p}
    if params.stop:
        payload["stop"] = list(params.stop)
    if params.seed is not None:
        payload["seed"] = params.seed
    if params.presence_penalty:
        payload["presence_penalty"] = params.presence_penalty
    if params.frequency_penalty:
        payload["frequency_penalty"] = params.frequency_penalty
    if params.logit_bias:
        payload["logit_bias"] = {str(token): bias for token, bias in params.logit_bias}
    return payload


def _payload(openai: Mapping[str, Any] | None, params: GenerationParams) -> dict[str, Any]:
    payload = dict(openai) if openai is not None else params_payload(params)
    payload.pop("max_completion_tokens", None)
    payload["max_tokens"] = params.max_tokens  # capped by the engine (server cap, key's budget)
    payload["stream"] = True
    payload["stream_options"] = {"include_usage": True}  # tokens per day need the upstream's count
    return payload


def _usage(reported: Any, prompt_estimate: int, events: int) -> Usage:
    if isinstance(reported, dict) and isinstance(reported.get("prompt_tokens"), int):
        prompt = max(0, reported["prompt_tokens"])
        completion = reported.get("completion_tokens")
        details = reported.get("prompt_tokens_details")
        cached = details.get("cached_tokens") if isinstance(details, dict) else None
        return Usage(prompt, max(0, completion) if isinstance(completion, int) else 0,
                     cached if isinstance(cached, int) and 0 <= cached <= prompt else 0, prompt)
    return Usage(prompt_estimate, events, 0, prompt_estimate)


class _Calls:
    """Tool-call deltas gathered by index (OpenAI streams a call's arguments in pieces)."""

    def __init__(self) -> None:
        self._calls: dict[int, list[str]] = {}

    def feed(self, deltas: Any) -> None:
        for delta in deltas if isinstance(deltas, list) else []:
            if not isinstance(delta, dict):
                continue
            index = delta.get("index", 0) if isinstance(delta.get("index", 0), int) else 0
            call = self._calls.setdefault(index, ["", ""])
            function: dict[str, Any] = delta["function"] if isinstance(delta.get("function"), dict) else {}
            if isinstance(function.get("name"), str):
                call[0] += function["name"]
            if isinstance(function.get("arguments"), str):
                call[1] += function["arguments"]

    def result(self) -> tuple[tuple[str, str], ...]:
        return tuple((name, args) for _, (name, args) in sorted(self._calls.items()) if name)


def _logprobs(value: Any) -> tuple[TokenLogprob, ...]:
    """An event's logprobs, in either of OpenAI's shapes (chat: `content` items; completions: lists)."""
    try:
        if isinstance(value, dict) and isinstance(value.get("content"), list):
            return tuple(
                TokenLogprob(str(item["token"]), float(item["logprob"]),
                             tuple((str(t["token"]), float(t["logprob"])) for t in item.get("top_logprobs") or ()))
                for item in value["content"]
            )
        if isinstance(value, dict) and isinstance(value.get("tokens"), list):
            tops = value.get("top_logprobs") or [None] * len(value["tokens"])
            return tuple(
                TokenLogprob(str(token), float(logprob), tuple((str(k), float(v)) for k, v in (top or {}).items()))
                for token, logprob, top in zip(value["tokens"], value["token_logprobs"], tops, strict=False)
            )
    except (KeyError, TypeError, ValueError, AttributeError):
        pass  # an upstream's odd logprobs are dropped rather than failing the reply
    return ()


class _Thinking:
    """An upstream's separate reasoning deltas (`reasoning_content`) put back in `<think>` tags, the way
    replies are kept and read here (engine.models.reasoning), so the engine splits them out as for a local
    reasoning model."""

    def __init__(self) -> None:
        self._open = False

    def feed(self, reasoning: Any, text: Any) -> list[str]:
        pieces = []
        if isinstance(reasoning, str) and reasoning:
            pieces.append(reasoning if self._open else THINK_OPEN + reasoning)
            self._open = True
        if isinstance(text, str) and text:
            pieces.append(self.close() + text)
        return pieces

    def close(self) -> str:
        if not self._open:
            return ""
        self._open = False
        return THINK_CLOSE + "\n\n"


class UpstreamBackend:
    """The models of every registered upstream, forwarded with failover (engine.upstreams.transport).

    By default the upstreams are those an administrator registered (`UpstreamStore`). Another source of
    OpenAI-compatible servers (a paired appliance) can reuse the whole forwarding path: pass its own
    `name`, `served_by` (what reply labels say) and `source` (the definitions, read on each request).
    """

    def __init__(
        self,
        vault: SettingsVault,
        *,
        name: str = NAME,
        served_by: str = "upstream",
        source: Callable[[], list[Upstream]] | None = None,
    ) -> None:
        self.vault = vault
        self.name = name
        self.served_by = served_by
        self._source = source or UpstreamStore(vault).list
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._gateway: Gateway | None = None
        self._lock = threading.Lock()

    # -- which models ---------------------------------------------------------------------------------

    def targets(self, model: str) -> list[Target]:
        """Where `model` can be forwarded, in failover order (empty: not an upstream model)."""
        return [Target(u, route) for u in self._source() if (route := u.route(model)) is not None]

    def models(self) -> list[ModelRef]:
        """Every routed model id, once (the first upstream serving it names it)."""
        seen: dict[str, ModelRef] = {}
        for upstream in self._source():
            for route in upstream.models:
                if route.id not in seen:
                    seen[route.id] = ModelRef(route.id, self.name, self.served_by,
                                              created=_created(upstream.added_at), origin=upstream.name)
        return list(seen.values())

    def find(self, name: str) -> ModelRef | None:
        """The routed model `name`, if an upstream serves it."""
        targets = self.targets(name)
        if not targets:
            return None
        first = targets[0].upstream
        return ModelRef(name, self.name, self.served_by, created=_created(first.added_at), origin=first.name)

    # -- the loop that owns the connections -----------------------------------------------------------

    def _submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        with self._lock:
            if self._loop is None:
                loop = asyncio.new_event_loop()
                self._thread = threading.Thread(target=loop.run_forever, name="upstreams", daemon=True)
                self._thread.start()
                self._loop, self._gateway = loop, Gateway()
            loop = self._loop
        return asyncio.run_coroutine_threadsafe(coroutine, loop)

    @property
    def gateway(self) -> Gateway | None:
        """The pooled clients (None until the first forwarded request)."""
        return self._gateway

    def close(self) -> None:
        """Close the connections and stop the loop thread."""
        with self._lock:
            loop, thread, gateway = self._loop, self._thread, self._gateway
            self._loop = self._thread = self._gateway = None
        if loop is None or gateway is None:
            return
        # A connection that will not close must not keep the engine from stopping.
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(gateway.aclose(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if thread is not None:
            thread.join(10)
        if not loop.is_running():
            loop.close()

    # -- generation -----------------------------------------------------------------------------------

    def chat(self, model: ModelRef, request: ChatRequest) -> Stream:
        """Forward a chat request, streamed."""
        payload = _payload(request.openai, request.params)
        if request.openai is None:
            payload["messages"] = [dict(m) for m in request.messages]
        prompt = estimate_tokens(json.dumps(payload.get("messages", []), ensure_ascii=False))
        return self._stream(model, "chat/completions", payload, prompt)

    def complete(self, model: ModelRef, request: CompletionRequest) -> Stream:
        """Forward a text completion, streamed."""
        payload = _payload(request.openai, request.params)
        if request.openai is None:
            payload["prompt"] = request.prompt
        return self._stream(model, "completions", payload, estimate_tokens(request.prompt))

    def _stream(self, model: ModelRef, path: str, payload: dict[str, Any], prompt_estimate: int) -> QueueStream:
        stream = QueueStream(model.name)
        targets = self.targets(model.name)
        future = self._submit(self._relay(stream, targets, path, payload, prompt_estimate))

        def stop() -> None:
            future.cancel()  # the relay's connection closes, and with it the upstream's generation

        stream.on_cancel(stop)
        return stream

    async def _relay(
        self, stream: QueueStream, targets: list[Target], path: str, payload: dict[str, Any], prompt_estimate: int
    ) -> None:
        """Post, then hand each event's text to `stream` as it arrives; the usage goes on the last chunk."""
        assert self._gateway is not None
        opened: Opened | None = None
        events = 0
        usage: Any = None
        finish: str | None = None
        calls = _Calls()
        thinking = _Thinking()
        try:
            opened = await self._gateway.post(targets, path, payload)
            stream.served_by = opened.target.upstream.name
            async for line in opened.response.aiter_lines():
                if len(line) > MAX_EVENT_CHARS:
                    raise UpstreamError("the serving backend sent an event larger than Enclave accepts")
                if not line.startswith("data:"):
                    continue  # blank separators, comments (": ping"), event names
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                try:
                    event = json.loads(data)
                except ValueError:
                    continue
                if not isinstance(event, dict):
                    continue
                if "error" in event:
                    error = event["error"] if isinstance(event["error"], dict) else {"message": str(event["error"])}
                    message = scrub(str(error.get("message", "")), opened.target.upstream, opened.target.route)
                    raise UpstreamError(message or "the serving backend failed", code="upstream_failed")
                if event.get("usage"):
                    usage = event["usage"]
                choices = event.get("choices")
                for choice in choices if isinstance(choices, list) else []:
                    if not isinstance(choice, dict):
                        continue
                    delta: dict[str, Any] = choice["delta"] if isinstance(choice.get("delta"), dict) else {}
                    text = delta.get("content", choice.get("text"))
                    calls.feed(delta.get("tool_calls"))
                    logprobs = _logprobs(choice.get("logprobs"))
                    for piece in thinking.feed(delta.get("reasoning_content", delta.get("reasoning")), text):
                        events += 1
                        stream.put(Chunk(piece, logprobs=logprobs))
                        logprobs = ()
                    if choice.get("finish_reason"):
                        finish = str(choice["finish_reason"])
            if finish is None:
                raise UpstreamError("the serving backend ended the reply early", code="upstream_failed")
            reported = _usage(usage, prompt_estimate, events)
            stream.put(Chunk(thinking.close(), finish, reported, tool_calls=calls.result()))
        except asyncio.CancelledError:
            # The consumer left: what was generated still counts (request log, tokens per day).
            stream.put(Chunk("", "cancelled", _usage(usage, prompt_estimate, events)))
        except UpstreamError as exc:
            stream.put(exc)
        except httpx.TimeoutException:
            stream.put(UpstreamTimeout("the serving backend stopped sending"))
        except httpx.TransportError:
            stream.put(UpstreamError("the connection to the serving backend broke", code="upstream_failed"))
        except Exception as exc:  # nothing may leave the stream without an end
            stream.put(UpstreamError(f"forwarding failed: {type(exc).__name__}", code="upstream_failed"))
        finally:
            stream.end()
            if opened is not None:
                await asyncio.shield(opened.response.aclose())

    # -- embeddings -----------------------------------------------------------------------------------

    def embed(self, model: ModelRef, texts: list[str]) -> Embeddings:
        """Embeddings from an upstream (blocks until they arrived)."""
        targets = self.targets(model.name)
        return self._submit(self._embed(targets, texts)).result()

    async def _embed(self, targets: list[Target], texts: list[str]) -> Embeddings:
        assert self._gateway is not None
        opened = await self._gateway.post(targets, "embeddings", {"input": texts, "encoding_format": "float"})
        try:
            data = json.loads(await opened.read(MAX_REPLY_BYTES))
            items = sorted(data["data"], key=lambda item: int(item.get("index", 0)))
            vectors = [_vector(item["embedding"]) for item in items]
        except (ValueError, KeyError, TypeError, AttributeError, struct.error):
            raise UpstreamError("the serving backend sent a reply that is not an embedding list",
                                code="upstream_bad_reply") from None
        if len(vectors) != len(texts):
            raise UpstreamError("the serving backend sent the wrong number of embeddings", code="upstream_bad_reply")
        usage = data.get("usage")
        tokens = usage.get("prompt_tokens") if isinstance(usage, dict) else None
        count = tokens if isinstance(tokens, int) and tokens >= 0 else sum(map(estimate_tokens, texts))
        return Embeddings(vectors, count, opened.target.upstream.name)


def _vector(value: Any) -> list[float]:
    if isinstance(value, str):  # base64 little-endian float32, if an upstream ignores encoding_format
        raw = base64.b64decode(value)
        return list(struct.unpack(f"<{len(raw) // 4}f", raw))
    if value and isinstance(value[0], list):
        # One vector per token (a server whose model has no pooling, e.g. llama.cpp's): their mean.
        rows = [[float(x) for x in row] for row in value]
        return [sum(column) / len(rows) for column in zip(*rows, strict=True)]
    return [float(x) for x in value]

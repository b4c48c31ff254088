"""HTTPS to a paired server with its certificate pinned: model list and streamed chat, clear failures.

The pinned certificate is the only trust anchor of the connection (no system CAs, no host name
check: the fingerprint from the pairing code is what identifies the server, whatever name or address
the desktop reaches it by). A server that presents any other certificate fails the handshake before
the key is sent; the desktop then looks at what it was shown, without trusting it, only to name both
fingerprints in the refusal.
"""

from __future__ import annotations

import json
import logging
import socket
import ssl
import time
from collections.abc import Iterator
from typing import Any

import httpx

from engine.errors import EnclaveError, IntegrityError, UserError
from engine.models.reasoning import THINK_CLOSE, THINK_OPEN
from engine.pairing.tls import fingerprint_of_der
from engine.runtime.types import CancelToken, Chunk, GenerationParams, Usage

log = logging.getLogger("enclave.pairing")

CONNECT_TIMEOUT_S = 5.0
READ_TIMEOUT_S = 300.0  # between two chunks of a reply: a busy GPU server may queue us a while
MAX_LINE = 1024 * 1024  # one SSE event
MAX_REPLY_BYTES = 64 * 1024 * 1024
MAX_MODELS_BODY = 4 * 1024 * 1024
USER_AGENT = "Enclave desktop"


class RemoteError(UserError):
    """A paired server could not serve a request; the message says which server and why."""

    def __init__(self, message: str, server: str = "") -> None:
        super().__init__(message)
        self.server = server  # the desktop's name for it (the GUI words its own sentence with it)


class RemoteUnreachable(RemoteError):
    """The server did not answer at all (down, wrong address, network)."""


class KeyRefused(RemoteError):
    """The server refused this desktop's key (revoked, or the server's vault was replaced)."""


class PairingCodeRefused(RemoteError):
    """The server would not redeem the pairing code; `reason` is `used`, `expired`, `revoked` or `unknown`."""

    def __init__(self, message: str, server: str = "", reason: str = "") -> None:
        super().__init__(message, server)
        self.reason = reason


class CertificateChanged(IntegrityError):
    """The server presented a certificate other than the pinned one."""

    def __init__(self, message: str, *, url: str, shown: str, pinned: str) -> None:
        super().__init__(message)
        self.url, self.shown, self.pinned = url, shown, pinned


def fetch_certificate(url: str, timeout_s: float = CONNECT_TIMEOUT_S) -> bytes:
    """The DER certificate the server at `url` presents, NOT verified (for pinning and messages only)."""
    parsed = httpx.URL(url)
    host, port = parsed.host, parsed.port or 443
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # we only read it; nothing is sent over this connection
    try:
        with socket.create_connection((host, port), timeout=timeout_s) as sock, context.wrap_socket(
            sock, server_hostname=host
        ) as tls:
            der = tls.getpeercert(binary_form=True)
    except ssl.SSLError:
        raise RemoteUnreachable(f"{url} does not speak TLS (is the server started with --tls auto?)") from None
    except OSError as exc:
        raise RemoteUnreachable(f"cannot reach {url}: {_why(exc)}") from None
    if not der:
        raise RemoteUnreachable(f"{url} presented no certificate")
    return der


def _why(exc: BaseException) -> str:
    if isinstance(exc, ConnectionRefusedError) or "refused" in str(exc).lower():
        return "connection refused (is the server running?)"
    if isinstance(exc, (TimeoutError, socket.timeout)) or "timed out" in str(exc).lower():
        return "no answer (timed out)"
    if isinstance(exc, socket.gaierror):
        return "host name unknown"
    return "network unreachable"


def pinned_context(cert_pem: str) -> ssl.SSLContext:
    """A TLS client context that trusts exactly this one certificate."""
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    context.check_hostname = False  # the pin identifies the server; its name may be an address or an alias
    context.verify_mode = ssl.CERT_REQUIRED
    context.load_verify_locations(cadata=cert_pem)
    # The pinned certificate is a leaf (CA:FALSE): let it be the whole chain's anchor.
    context.verify_flags |= ssl.VERIFY_X509_PARTIAL_CHAIN
    return context


def payload(params: GenerationParams) -> dict[str, Any]:
    """Sampling settings in OpenAI's names."""
    body: dict[str, Any] = {"max_tokens": params.max_tokens, "temperature": params.temperature, "top_p": params.top_p}
    if params.stop:
        body["stop"] = list(params.stop)
    if params.seed is not None:
        body["seed"] = params.seed
    if params.presence_penalty:
        body["presence_penalty"] = params.presence_penalty
    if params.frequency_penalty:
        body["frequency_penalty"] = params.frequency_penalty
    return body


class RemoteClient:
    """Requests to one paired server, each on a fresh pinned connection pool; close() when done."""

    def __init__(self, name: str, url: str, fingerprint: str, cert_pem: str, api_key: str) -> None:
        self.name, self.url, self.fingerprint = name, url, fingerprint
        self._client = httpx.Client(
            base_url=url + "/v1/",
            verify=pinned_context(cert_pem),
            timeout=httpx.Timeout(connect=CONNECT_TIMEOUT_S, read=READ_TIMEOUT_S, write=30.0, pool=10.0),
            trust_env=False,  # no proxy or netrc from the environment: only the paired server is contacted
            follow_redirects=False,  # a redirect could carry the key elsewhere
            # No key yet while redeeming a pairing code: the token in the body is the credential.
            headers={"User-Agent": USER_AGENT, **({"Authorization": f"Bearer {api_key}"} if api_key else {})},
        )

    def close(self) -> None:
        """Close the connections (from any thread: a reply being read then ends at once)."""
        self._client.close()

    def __enter__(self) -> RemoteClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    # -- failures ------------------------------------------------------------------------------------

    def _error(self, what: str) -> RemoteError:
        return RemoteError(f"the server {self.name!r} {what}", self.name)

    def _connect_failure(self, exc: httpx.HTTPError) -> EnclaveError:
        cause: BaseException | None = exc
        while cause is not None and not isinstance(cause, ssl.SSLCertVerificationError):
            cause = cause.__cause__ or cause.__context__
        if cause is not None or "CERTIFICATE_VERIFY_FAILED" in str(exc):
            try:
                shown = fingerprint_of_der(fetch_certificate(self.url))
            except RemoteError:
                shown = "(could not be read)"
            log.warning("paired server %s presented another certificate", self.name)
            return CertificateChanged(
                f"refused: the server {self.name!r} at {self.url} presented certificate {shown}, but this "
                f"desktop was paired with certificate {self.fingerprint}. Someone may be intercepting the "
                "connection, or the server got a new certificate: ask its administrator for a new pairing code",
                url=self.url, shown=shown, pinned=self.fingerprint,
            )
        if isinstance(exc, httpx.TimeoutException) and not isinstance(exc, httpx.ConnectTimeout):
            return self._error("stopped answering (timed out)")
        reason = _why(exc.__cause__ or exc) if isinstance(exc, httpx.ConnectError) else "the connection broke"
        return RemoteUnreachable(
            f"the server {self.name!r} ({self.url}) cannot be reached: {reason}. Local models keep working",
            self.name,
        )

    def _refusal(self, response: httpx.Response) -> RemoteError:
        try:
            body = response.read()[:64 * 1024]
            error = json.loads(body)["error"]
            message, code = str(error["message"])[:300], str(error.get("code") or "")
        except (ValueError, KeyError, TypeError, AttributeError, httpx.HTTPError):
            message, code = "", ""
        status = response.status_code
        if code.startswith("pairing_code_"):
            reason = code.removeprefix("pairing_code_")
            text = {
                "used": "this pairing code was already used; ask the server's administrator for a new one",
                "expired": "this pairing code has expired; ask the server's administrator for a new one",
                "revoked": "this pairing code was revoked; ask the server's administrator for a new one",
            }.get(reason, "the server does not know this pairing code (is it for another server?)")
            return PairingCodeRefused(text, self.name, reason)
        if status == 401:
            return KeyRefused(
                f"the server {self.name!r} refused this desktop's key: the pairing was revoked (or the server "
                "was reset). Ask its administrator for a new pairing code",
                self.name,
            )
        if status == 403:
            return self._error(f"refused: {message or 'not allowed for this key'}")
        if status == 429:
            return self._error(f"is busy or this key's limit is reached: {message}")
        return self._error(f"answered HTTP {status}{': ' + message if message else ''}")

    def _send(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        request = self._client.build_request(method, path, json=body)
        try:
            response = self._client.send(request, stream=True)
        except httpx.HTTPError as exc:
            raise self._connect_failure(exc) from None
        if response.status_code >= 400:
            try:
                raise self._refusal(response)
            finally:
                response.close()
        return response

    # -- calls ---------------------------------------------------------------------------------------

    def models(self) -> list[str]:
        """The ids of the models this desktop's key may use there."""
        response = self._send("GET", "models")
        try:
            body = b""
            for part in response.iter_bytes():
                body += part
                if len(body) > MAX_MODELS_BODY:
                    raise self._error("sent a model list larger than Enclave accepts")
            return [str(m["id"]) for m in json.loads(body)["data"]]
        except (ValueError, KeyError, TypeError):
            raise self._error("did not send an OpenAI model list") from None
        except httpx.HTTPError as exc:
            raise self._connect_failure(exc) from None
        finally:
            response.close()

    def redeem(self, token: str) -> tuple[str, str]:
        """Spend a pairing code's one-time token: (the device's API key, the name the server gave it)."""
        response = self._send("POST", "pair/redeem", {"token": token})
        try:
            data = json.loads(response.read()[:MAX_MODELS_BODY])
            key, device = str(data["api_key"]), str(data.get("device") or "")
        except (ValueError, KeyError, TypeError):
            raise self._error("did not answer the pairing code as an Enclave server does") from None
        except httpx.HTTPError as exc:
            raise self._connect_failure(exc) from None
        finally:
            response.close()
        if not key or any(c.isspace() for c in key) or len(key) > 256:
            raise self._error("sent an unusable key for the pairing code")
        return key, device

    def stream(self, path: str, body: dict[str, Any], cancel: CancelToken) -> Iterator[Chunk]:
        """POST an OpenAI request (`chat/completions` or `completions`) streamed; the last chunk has
        finish_reason and usage. Errors before the first byte raise here; cancel closes the connection."""
        body = {**body, "stream": True, "stream_options": {"include_usage": True}}
        started = time.monotonic()
        response = self._send("POST", path, body)
        return self._events(response, cancel, started)

    def chat(
        self, messages: list[dict[str, str]], params: GenerationParams, model: str, cancel: CancelToken
    ) -> Iterator[Chunk]:
        """Stream a chat reply with these sampling settings."""
        return self.stream("chat/completions", {"model": model, "messages": messages, **payload(params)}, cancel)

    def embed(self, model: str, texts: list[str]) -> tuple[list[list[float]], int]:
        """Embeddings of `texts` and the prompt tokens the server counted."""
        response = self._send("POST", "embeddings", {"model": model, "input": texts})
        try:
            body = b""
            for part in response.iter_bytes():
                body += part
                if len(body) > MAX_REPLY_BYTES:
                    raise self._error("sent a reply larger than Enclave accepts")
            data = json.loads(body)
            vectors = [[float(x) for x in item["embedding"]] for item in sorted(data["data"], key=lambda i: i["index"])]
            return vectors, int((data.get("usage") or {}).get("prompt_tokens") or 0)
        except (ValueError, KeyError, TypeError):
            raise self._error("sent malformed embeddings") from None
        except httpx.HTTPError as exc:
            raise self._connect_failure(exc) from None
        finally:
            response.close()

    def _events(self, response: httpx.Response, cancel: CancelToken, started: float) -> Iterator[Chunk]:
        finish: str | None = None
        usage: Usage | None = None
        thinking = False
        size = 0
        try:
            for line in response.iter_lines():
                if cancel.cancelled:
                    finish = "cancelled"
                    break
                size += len(line)
                if len(line) > MAX_LINE or size > MAX_REPLY_BYTES:
                    raise self._error("sent a reply larger than Enclave accepts")
                if not line.startswith("data:"):
                    continue
                data = line[5:].strip()
                if data == "[DONE]":
                    break
                event = json.loads(data)
                if "error" in event:
                    raise self._error(f"failed: {str(event['error'].get('message'))[:300]}")
                if isinstance(event.get("usage"), dict):
                    u = event["usage"]
                    prompt, completion = int(u.get("prompt_tokens") or 0), int(u.get("completion_tokens") or 0)
                    usage = Usage(prompt, completion, 0, prompt)
                for choice in event.get("choices") or []:
                    delta = choice.get("delta") or {"content": choice.get("text")}  # chat, or a completion
                    text = ""
                    if delta.get("reasoning_content"):
                        # Stored as local replies are: the thinking inside its tags, before the answer.
                        text += ("" if thinking else THINK_OPEN + "\n") + delta["reasoning_content"]
                        thinking = True
                    if delta.get("content"):
                        text += (THINK_CLOSE + "\n" if thinking else "") + delta["content"]
                        thinking = False
                    if text:
                        yield Chunk(text)
                    finish = choice.get("finish_reason") or finish
        except (httpx.HTTPError, ValueError, KeyError, TypeError, AttributeError, OSError) as exc:
            if not cancel.cancelled:
                if isinstance(exc, httpx.HTTPError):
                    raise self._connect_failure(exc) from None
                raise self._error("sent a malformed stream") from None
            finish = "cancelled"  # the connection was closed under us to stop the reply at once
        finally:
            response.close()  # on cancel too: the server sees the disconnect and stops generating
        elapsed = time.monotonic() - started
        rate = usage.completion_tokens / elapsed if usage and elapsed > 0 else None
        yield Chunk("", finish_reason=finish or "stop", usage=usage, tokens_per_s=rate)

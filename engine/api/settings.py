"""How the HTTP endpoint is configured: allowed hosts and origins, size and token caps, queue length."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass, field, fields

LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "[::1]")
DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8765


def is_loopback(host: str) -> bool:
    """True for a bind address that only this machine can reach."""
    if host.strip("[]") == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class ApiSettings:
    """Endpoint settings; the defaults are the locked-down ones."""

    allowed_hosts: tuple[str, ...] = ()  # beyond localhost, 127.0.0.1 and [::1]
    cors_origins: tuple[str, ...] = ()  # exact origins, e.g. "http://localhost:3000"; never "*"
    max_body_bytes: int = 4 * 1024 * 1024
    max_tokens_cap: int = 4096  # no request generates more than this, whatever it asks
    max_pending: int = 16  # generation requests in flight (running + waiting) before 429
    retry_after_s: int = 2  # what a 429 for a full queue tells clients
    max_embedding_inputs: int = 256
    max_connections: int = 128  # open HTTP connections; one more gets 503 and is closed
    header_timeout_s: float = 10.0  # request line and headers must arrive within this
    body_timeout_s: float = 60.0  # the whole body within this after the headers
    keep_alive_timeout_s: float = 5.0  # an idle connection between requests is closed after this
    log_content: bool = True  # store prompts/replies in the request log (a key can still opt out)
    extra_hosts: tuple[str, ...] = field(default=(), repr=False)  # added by the server (its bind address)
    # Host names added while serving (a pairing created over the admin channel names its URL's host).
    live_hosts: set[str] = field(default_factory=set, repr=False, compare=False)

    def __post_init__(self) -> None:
        if "*" in self.cors_origins:
            raise ValueError("CORS origins must be listed exactly; '*' is not allowed")
        if self.max_body_bytes < 1024 or self.max_tokens_cap < 1 or self.max_pending < 1:
            raise ValueError("body cap, token cap and queue length must be positive")
        if self.max_connections < 1 or self.max_embedding_inputs < 1:
            raise ValueError("the connection cap and the embedding input cap must be positive")
        if min(self.header_timeout_s, self.body_timeout_s, self.keep_alive_timeout_s) <= 0:
            raise ValueError("timeouts must be positive")

    def host_allowlist(self) -> frozenset[str]:
        """Every Host name (without port) the endpoint answers to, lower-case."""
        names = (*LOOPBACK_HOSTS, *self.allowed_hosts, *self.extra_hosts)
        return frozenset(_bracket(name.lower()) for name in names if name)


# The numeric settings `enclave serve --limit NAME=VALUE` may change, with their types.
LIMIT_FIELDS: dict[str, type[int] | type[float]] = {
    f.name: int if f.type in ("int", int) else float
    for f in fields(ApiSettings)
    if f.type in ("int", "float", int, float)
}


def _bracket(host: str) -> str:
    """IPv6 literals appear in Host headers in brackets."""
    if ":" in host and not host.startswith("["):
        return f"[{host}]"
    return host

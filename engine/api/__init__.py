"""The OpenAI-compatible HTTP endpoint: app factory, security middleware, routes and server runner.

The app and server are imported on first use (PEP 562): FastAPI and uvicorn take a while to import,
and `enclave --help` or `enclave chat` should not pay for them.
"""

from typing import TYPE_CHECKING, Any

from engine.api.settings import DEFAULT_HOST, DEFAULT_PORT, ApiSettings

if TYPE_CHECKING:
    from engine.api.app import create_app
    from engine.api.server import ApiServer

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ApiServer", "ApiSettings", "create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        from engine.api.app import create_app

        return create_app
    if name == "ApiServer":
        from engine.api.server import ApiServer

        return ApiServer
    raise AttributeError(f"module 'engine.api' has no attribute {name!r}")

"""The OpenAI-compatible HTTP endpoint: app factory, security middleware, routes and server runner."""

from engine.api.app import create_app
from engine.api.server import ApiServer
from engine.api.settings import DEFAULT_HOST, DEFAULT_PORT, ApiSettings

__all__ = ["DEFAULT_HOST", "DEFAULT_PORT", "ApiServer", "ApiSettings", "create_app"]

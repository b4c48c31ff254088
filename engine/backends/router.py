"""`Backends`: the ordered set of backends, and the one rule for which serves a model name.

The first backend that `find`s a name serves it: the local runtime comes first, so a local model wins
over an upstream's (or a paired server's) of the same name. A new backend is added with `add()`.
"""

from __future__ import annotations

from collections.abc import Iterator

from engine.backends.base import Backend, ModelRef
from engine.errors import NotFoundError


class Backends:
    """Backends in priority order (local first)."""

    def __init__(self, *backends: Backend) -> None:
        self._backends: list[Backend] = list(backends)

    def add(self, backend: Backend) -> None:
        """Serve the models of `backend` too (after those already here)."""
        self._backends.append(backend)

    def __iter__(self) -> Iterator[Backend]:
        return iter(list(self._backends))

    def get(self, name: str) -> Backend:
        """The backend called `name`."""
        for backend in self._backends:
            if backend.name == name:
                return backend
        raise KeyError(name)

    def find(self, name: str) -> tuple[Backend, ModelRef] | None:
        """Which backend serves model `name`, or None."""
        for backend in self._backends:
            if (ref := backend.find(name)) is not None:
                return backend, ref
        return None

    def resolve(self, name: str) -> tuple[Backend, ModelRef]:
        """Which backend serves model `name` (NotFoundError if none does)."""
        if (found := self.find(name)) is None:
            raise NotFoundError(f"unknown model {name!r}; see `enclave models list`")
        return found

    def backend_of(self, model: ModelRef) -> Backend:
        """The backend a `ModelRef` came from."""
        return self.get(model.backend)

    def models(self) -> list[ModelRef]:
        """Every model offered, each name once (the first backend's wins)."""
        seen: set[str] = set()
        refs: list[ModelRef] = []
        for backend in self._backends:
            for ref in backend.models():
                if ref.name not in seen:
                    seen.add(ref.name)
                    refs.append(ref)
        return refs

    def close(self) -> None:
        """Close every backend (the last added first)."""
        for backend in reversed(self._backends):
            backend.close()

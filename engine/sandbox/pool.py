"""The parent side: a few persistent sandbox children, each doing one request at a time.

A caller takes an idle child (starting one if fewer than the cap are alive), sends its request and
waits for the answer until the request's deadline plus a short grace. A child that does not answer by
then, answers that it ran out of memory, or dies, is killed and replaced. Children
get no environment from the server (no passphrase), no inherited files, and stderr goes nowhere
(a failure must not copy prompt text into a plaintext log).
"""

from __future__ import annotations

import atexit
import contextlib
import json
import logging
import os
import queue
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from engine.sandbox.child import read_frame

log = logging.getLogger("enclave.sandbox")
MAX_ANSWER_BYTES = 64 * 1024 * 1024
START_TIMEOUT_S = 20.0
# How long past its own deadline a child may take to answer before it is killed: the interval timer in
# the child stops Python code at the deadline; only a long call in C runs on.
KILL_GRACE_S = 0.5
CHILD_FLAG = "--enclave-sandbox-child"  # how a frozen bundle's executable is told to be a child


class SandboxError(Exception):
    """The sandboxed work failed or was refused; the message says why, in words for the client."""


class SandboxTimeout(SandboxError):
    """The sandboxed work ran past its time limit."""


class SandboxRefused(SandboxError):
    """The sandboxed code refused its input; the message is a whole sentence from the sandbox."""


def _env_number(name: str, default: float) -> float:
    try:
        value = float(os.environ.get(name, "") or default)
    except ValueError:
        return default
    return value if value > 0 else default


@dataclass(frozen=True)
class SandboxLimits:
    """Time, memory and process caps of the sandbox (environment variables override the defaults)."""

    timeout_s: float = 2.0  # ENCLAVE_SANDBOX_TIMEOUT_S: one request's templates, or one schema
    memory_mb: int = 512  # ENCLAVE_SANDBOX_MEMORY_MB: address space of each child
    processes: int = 2  # ENCLAVE_SANDBOX_PROCESSES: children at most

    @classmethod
    def from_environment(cls) -> SandboxLimits:
        """The limits, with ENCLAVE_SANDBOX_* variables applied."""
        return cls(
            timeout_s=_env_number("ENCLAVE_SANDBOX_TIMEOUT_S", cls.timeout_s),
            memory_mb=int(_env_number("ENCLAVE_SANDBOX_MEMORY_MB", cls.memory_mb)),
            processes=max(1, int(_env_number("ENCLAVE_SANDBOX_PROCESSES", cls.processes))),
        )


def _command() -> list[str]:
    if getattr(sys, "frozen", False):
        return [sys.executable, CHILD_FLAG]
    # -I: no environment variables, user site or current directory on the path; the engine's own
    # checkout is put first, so the child runs the same code as the server.
    root = str(Path(__file__).resolve().parents[2])
    code = f"import sys; sys.path.insert(0, {root!r}); from engine.sandbox.child import main; main()"
    return [sys.executable, "-I", "-c", code]


class _Child:
    """One child process and the thread that reads its answers."""

    def __init__(self, memory_mb: int) -> None:
        env = {"ENCLAVE_SANDBOX_CHILD_MEMORY_MB": str(memory_mb)}
        if sys.platform == "win32":
            env["SYSTEMROOT"] = os.environ.get("SYSTEMROOT", "")
        self.process = subprocess.Popen(
            _command(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            cwd=str(Path(__file__).resolve().parents[2]),
        )
        self._answers: queue.SimpleQueue[Any] = queue.SimpleQueue()
        assert self.process.stdout is not None and self.process.stdin is not None
        self._stdin: IO[bytes] = self.process.stdin
        threading.Thread(target=self._read, args=(self.process.stdout,), name="sandbox-reader", daemon=True).start()
        ready = self._wait(START_TIMEOUT_S)
        if ready != {"ok": "ready"}:
            self.kill()
            raise SandboxError("could not start its sandbox process")

    def _read(self, stream: IO[bytes]) -> None:
        try:
            while (frame := read_frame(stream, MAX_ANSWER_BYTES)) is not None:  # type: ignore[arg-type]
                self._answers.put(frame)
        except (OSError, ValueError):
            pass
        self._answers.put(None)  # end of stream: the child died or was killed

    def _wait(self, timeout: float) -> Any:
        try:
            return self._answers.get(timeout=max(0.0, timeout))
        except queue.Empty:
            return None

    def call(self, op: str, args: tuple[Any, ...], timeout: float) -> Any:
        """Send one request and wait for its answer; None if the child did not answer in time or died."""
        body = json.dumps({"op": op, "args": args, "timeout": timeout}, ensure_ascii=False).encode(
            "utf-8", "surrogatepass"
        )
        try:
            self._stdin.write(len(body).to_bytes(4, "big") + body)
            self._stdin.flush()
        except OSError:
            return None
        return self._wait(timeout + KILL_GRACE_S)

    @property
    def alive(self) -> bool:
        return self.process.poll() is None

    def kill(self) -> None:
        """Kill the child now and reap it."""
        with contextlib.suppress(OSError):
            self.process.kill()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=5)
        for stream in (self.process.stdin, self.process.stdout):
            try:
                if stream is not None:
                    stream.close()
            except OSError:
                pass


class SandboxPool:
    """Up to `limits.processes` children; `run()` from any thread."""

    def __init__(self, limits: SandboxLimits | None = None) -> None:
        self.limits = limits or SandboxLimits.from_environment()
        self._idle: list[_Child] = []
        self._busy: set[_Child] = set()
        self._starting = 0
        self._by_key: dict[str, int] = {}  # children busy for each key (a template's source)
        self._closed = False
        self._cond = threading.Condition()

    def run(self, op: str, *args: Any, timeout: float | None = None, key: str | None = None) -> Any:
        """`op(*args)` in a child within `timeout` seconds (default: the limit); SandboxError otherwise.

        Requests with the same `key` (one template's source) never hold every child: while one hostile
        template runs to its time limit, others (other models, schemas) still get a child.
        """
        timeout = self.limits.timeout_s if timeout is None else min(timeout, self.limits.timeout_s)
        if timeout <= 0:
            raise SandboxTimeout("took too long")
        deadline = time.monotonic() + timeout
        child = self._acquire(deadline, key)
        answer = None
        try:
            answer = child.call(op, args, max(0.001, deadline - time.monotonic()))
        finally:
            # A child that stopped its own work at the deadline is fine; one that ran out of memory is
            # replaced, so that the memory goes back to the system.
            healthy = isinstance(answer, dict) and answer.get("error") != "memory"
            self._release(child, healthy and child.alive, key)
        if answer is None:
            if self._closed:
                raise SandboxError("was stopped (the server is stopping)")
            if time.monotonic() >= deadline:
                raise SandboxTimeout("took too long")
            raise SandboxError("crashed (out of memory?)")
        if "ok" in answer:
            return answer["ok"]
        kind, message = answer.get("error"), str(answer.get("message", ""))
        if kind == "timeout":
            raise SandboxTimeout("took too long")
        if kind == "refused":
            raise SandboxRefused(message)
        if kind == "memory":
            raise SandboxError("used too much memory")
        raise SandboxError(f"failed ({message})")

    def _acquire(self, deadline: float, key: str | None) -> _Child:
        per_key = max(1, self.limits.processes - 1)
        with self._cond:
            while True:
                if self._closed:
                    raise SandboxError("was stopped (the server is stopping)")
                if key is not None and self._by_key.get(key, 0) >= per_key:
                    pass  # wait for this key's turn
                elif self._idle:
                    self._take(key)
                    child = self._idle.pop()
                    self._busy.add(child)
                    return child
                elif len(self._busy) + self._starting < self.limits.processes:
                    self._starting += 1
                    self._take(key)
                    break
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise SandboxTimeout("waited too long for a sandbox process")
                self._cond.wait(remaining)
        try:
            child = _Child(self.limits.memory_mb)
        except (OSError, SandboxError) as exc:
            log.error("could not start a sandbox process: %s", type(exc).__name__)  # no detail: no prompt text
            with self._cond:
                self._starting -= 1
                self._give(key)
                self._cond.notify()
            raise SandboxError("could not start its sandbox process") from None
        with self._cond:
            self._starting -= 1
            self._busy.add(child)
            if self._closed:
                self._busy.discard(child)
                self._give(key)
                child.kill()
                raise SandboxError("was stopped (the server is stopping)")
        return child

    def _take(self, key: str | None) -> None:
        if key is not None:
            self._by_key[key] = self._by_key.get(key, 0) + 1

    def _give(self, key: str | None) -> None:
        if key is not None:
            self._by_key[key] -= 1
            if not self._by_key[key]:
                del self._by_key[key]

    def _release(self, child: _Child, healthy: bool, key: str | None = None) -> None:
        if not healthy:
            child.kill()  # its memory goes back to the system; a fresh child replaces it
        with self._cond:
            self._busy.discard(child)
            self._give(key)
            if healthy and not self._closed:
                self._idle.append(child)
            elif healthy:
                child.kill()
            self._cond.notify()
            replace = not healthy and not self._closed and not self._idle
        if replace:
            self.warm()

    def warm(self) -> None:
        """Start one child now (in the background), so the first request does not wait for it."""

        def start() -> None:
            with contextlib.suppress(SandboxError):
                self.run("ping")

        threading.Thread(target=start, name="sandbox-warm", daemon=True).start()

    def close(self) -> None:
        """Kill every child, busy ones included (their callers get SandboxError at once)."""
        with self._cond:
            self._closed = True
            children = [*self._idle, *self._busy]
            self._idle.clear()
            self._cond.notify_all()
        for child in children:
            child.kill()


_default: SandboxPool | None = None
_default_lock = threading.Lock()


def default_pool() -> SandboxPool:
    """The process's pool (made on first use, with the limits from the environment)."""
    global _default
    with _default_lock:
        if _default is None:
            _default = SandboxPool()
            atexit.register(_default.close)
        return _default


def shutdown_default_pool() -> None:
    """Kill the process's sandbox children now, for good (server shutdown): work in flight or still to
    come fails at once instead of starting new children."""
    default_pool().close()

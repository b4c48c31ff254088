"""The sandbox child process: reads requests on stdin, answers on stdout, one at a time.

Frames are a 4-byte big-endian length and UTF-8 JSON. A request is {"op", "args", "timeout"}; the
answer {"ok": result} or {"error": kind, "message": text}. Each request runs under an interval timer
(a Python loop in a template stops at its deadline and the child lives on); the parent kills a child
that does not answer shortly after (a long call in C), and a child whose parent has gone exits.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import struct
import sys
import threading
import time
from collections.abc import Callable
from typing import Any, BinaryIO

_HEADER = struct.Struct(">I")
MAX_REQUEST_BYTES = 64 * 1024 * 1024


class _Deadline(BaseException):
    """Raised by the interval timer: a BaseException, so that no `except Exception` in a library swallows it."""


def _on_alarm(signum: int, frame: Any) -> None:
    raise _Deadline()


def _read_exact(stream: BinaryIO, size: int) -> bytes | None:
    data = b""
    while len(data) < size:
        chunk = stream.read(size - len(data))
        if not chunk:
            return None
        data += chunk
    return data


def read_frame(stream: BinaryIO, limit: int) -> Any:
    """One frame's JSON value; None at end of stream; ValueError for a frame over `limit` bytes."""
    header = _read_exact(stream, _HEADER.size)
    if header is None:
        return None
    (size,) = _HEADER.unpack(header)
    if size > limit:
        raise ValueError("frame too large")
    body = _read_exact(stream, size)
    if body is None:
        return None
    return json.loads(body)


def write_frame(stream: BinaryIO, value: Any) -> None:
    """Write one frame and flush."""
    body = json.dumps(value, ensure_ascii=False).encode("utf-8", "surrogatepass")
    stream.write(_HEADER.pack(len(body)) + body)
    stream.flush()


def _limit_memory() -> None:
    try:
        import resource
    except ImportError:  # Windows: the time limit and the value caps still hold
        return

    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))  # a crash must not write prompts to a core file
    megabytes = int(os.environ.get("ENCLAVE_SANDBOX_CHILD_MEMORY_MB", "0") or 0)
    if megabytes > 0:
        # Not enforced on every platform (macOS); the time limit and the value caps still hold there.
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_AS, (megabytes * 1024 * 1024,) * 2)


def _watch_parent(parent: int) -> None:
    # A child whose server is gone (killed) must not spin on a template: exit within a second.
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(0)


def _operations() -> dict[str, Callable[..., Any]]:
    from engine.sandbox import gbnf, jinja_env

    return {
        "render": lambda source, variables: jinja_env.render(source, variables),
        "declares_tools": jinja_env.declares_tools,
        "grammar": gbnf.schema_to_gbnf,
        "ping": lambda: "pong",
    }


def serve(inp: BinaryIO, out: BinaryIO) -> None:
    """Answer requests until stdin closes."""
    from engine.sandbox.gbnf import SchemaRefused
    from engine.sandbox.jinja_env import TemplateRefused

    operations = _operations()
    timer = hasattr(signal, "setitimer")
    if timer:
        signal.signal(signal.SIGALRM, _on_alarm)
    write_frame(out, {"ok": "ready"})
    while True:
        request = read_frame(inp, MAX_REQUEST_BYTES)
        if request is None:
            return
        answer: dict[str, Any]
        try:
            if timer:
                signal.setitimer(signal.ITIMER_REAL, max(0.001, float(request.get("timeout", 5.0))))
            try:
                answer = {"ok": operations[request["op"]](*request.get("args", ()))}
            finally:
                if timer:
                    signal.setitimer(signal.ITIMER_REAL, 0)
        except _Deadline:
            answer = {"error": "timeout", "message": "took too long"}
        except MemoryError:
            answer = {"error": "memory", "message": "used too much memory"}
        except (TemplateRefused, SchemaRefused) as exc:
            answer = {"error": "refused", "message": str(exc)}
        except RecursionError:
            answer = {"error": "refused", "message": "nests too deeply"}
        except Exception as exc:  # anything else is the input's fault; say only what kind of failure
            answer = {"error": "failed", "message": type(exc).__name__}
        try:
            write_frame(out, answer)
        except MemoryError:
            write_frame(out, {"error": "memory", "message": "used too much memory"})


def main() -> None:
    """Entry point: protocol on the original stdout, which nothing else may write to."""
    inp = os.fdopen(os.dup(0), "rb", buffering=0)
    out = os.fdopen(os.dup(1), "wb")
    devnull = os.open(os.devnull, os.O_RDWR)
    for fd in (0, 1):
        os.dup2(devnull, fd)  # stray prints go nowhere rather than into the protocol
    sys.stdin = sys.stdout = open(os.devnull, "r+")  # noqa: SIM115 (lives as long as the process)
    threading.Thread(target=_watch_parent, args=(os.getppid(),), daemon=True).start()
    _limit_memory()
    serve(inp, out)


if __name__ == "__main__":
    main()

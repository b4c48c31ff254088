"""Attacks on generation against a real `enclave serve`: a schema that expands without end, a chat template
that loops for ever or builds gigabytes. Each gets a clear 400 within a fixed time; /health and other
requests are served meanwhile; the server's memory stays under a fixed ceiling; SIGTERM is obeyed."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from engine.models import ModelRegistry
from engine.vault import FLOOR, Vault
from tests.api.conftest import PASSPHRASE
from tests.api.serving import SERVE, free_port
from tests.tiny_gguf import CHATML_TEMPLATE, write_tiny_gguf

# One hostile template, its attack chosen by the last message: the rest of it is ChatML.
HOSTILE = (
    "{% set a = messages[-1]['content'] %}"
    "{% if a == 'loop' %}{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
    "{% elif a == 'center' %}{{ 'x'.center(1600000000) }}"
    "{% elif a == 'format' %}{{ '%1600000000s' | format('x') }}"
    "{% elif a == 'join' %}{{ range(100000) | join('x' * 40000) }}"
    "{% elif a == 'replace' %}{{ ('x' * 3000000) | replace('x', 'yyyyyyyyyy') }}"
    "{% elif a == 'indent' %}{{ ('a\n' * 100000) | indent(100000) }}"
    "{% elif a == 'wordwrap' %}{{ ('a ' * 1000000) | wordwrap(1, wrapstring='x' * 1000) }}"
    "{% elif a == 'pile' %}{% macro m() %}{% for i in range(100000) %}{{ 'x' * 1000000 }}{% endfor %}"
    "{% endmacro %}{{ m() | length }}"
    "{% endif %}" + CHATML_TEMPLATE
)
MEMORY_ATTACKS = ("center", "format", "join", "replace", "indent", "wordwrap", "pile")
PATTERN_ATTACK = {"type": "string", "pattern": "^(ab|c){1,30000000}$"}
TIME_LIMIT_S = 1.0  # the server's sandbox time limit in this module (ENCLAVE_SANDBOX_TIMEOUT_S)
ANSWER_WITHIN_S = TIME_LIMIT_S + 3.0  # a refused request's answer, on a busy two-core machine
HEALTH_WITHIN_S = 1.5  # /health during an attack (the machine that runs the tests is shared and busy)
RSS_GROWTH_CEILING_MB = 60  # what the attacks may leave behind in the server process


@dataclass
class Served:
    """A running `enclave serve` subprocess and a key for it."""

    process: subprocess.Popen[str]
    url: str
    key: str
    errors: list[str] = field(default_factory=list)

    def client(self) -> httpx.Client:
        return httpx.Client(base_url=self.url, headers={"Authorization": f"Bearer {self.key}"}, timeout=30)

    def rss_mb(self) -> float:
        status = Path(f"/proc/{self.process.pid}/status").read_text()
        return int(next(line for line in status.splitlines() if line.startswith("VmRSS:")).split()[1]) / 1024


def start_serve(home: Path, models: dict[str, Path], **env: str) -> Served:
    """A vault, the models (the first is the default), a key, and `enclave serve` on a free port."""
    assert os.environ["ENCLAVE_HOME"] == str(home)
    if not Vault.exists(home):
        vault, _ = Vault.init(home, PASSPHRASE, kdf=FLOOR)
        vault.close()
        registry = ModelRegistry()
        for name, path in models.items():
            registry.import_file(path, name)
        registry.set_default(next(iter(models)))
    with Vault.unlock(home, PASSPHRASE) as vault:
        _, key = vault.api_keys.create(f"attacker-{time.monotonic_ns()}")
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, "serve", "--port", str(port), "--model", "tiny"],
        env={**os.environ, "ENCLAVE_HOME": str(home), "ENCLAVE_PASSPHRASE": PASSPHRASE, "ENCLAVE_NO_DEMO": "1", **env},
        stderr=subprocess.PIPE, text=True, cwd=Path(__file__).resolve().parents[2],
    )
    served = Served(process, f"http://127.0.0.1:{port}", key)
    deadline = time.monotonic() + 60
    while True:
        assert process.poll() is None, process.stderr.read() if process.stderr else ""
        try:
            if httpx.get(f"{served.url}/health", timeout=1).status_code == 200:
                return served
        except httpx.TransportError:
            pass
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.1)


def stop_serve(served: Served) -> float:
    """SIGTERM; the seconds it took the process to exit."""
    started = time.monotonic()
    served.process.send_signal(signal.SIGTERM)
    try:
        served.process.wait(timeout=30)
    finally:
        if served.process.poll() is None:
            served.process.kill()
    return time.monotonic() - started


@pytest.fixture(scope="module")
def hostile_gguf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The tiny model with the hostile template."""
    return write_tiny_gguf(tmp_path_factory.mktemp("models") / "hostile.gguf", chat_template=HOSTILE, seed=5)


@pytest.fixture(scope="module")
def served(api_home: Path, tiny_gguf: Path, hostile_gguf: Path) -> Iterator[Served]:
    """The module's server, with a one-second sandbox time limit."""
    models = {"tiny": tiny_gguf, "hostile": hostile_gguf}
    running = start_serve(api_home, models, ENCLAVE_SANDBOX_TIMEOUT_S=str(TIME_LIMIT_S))
    chat(running, "tiny", "warm up")  # the model and a sandbox process are up: the baseline is steady
    yield running
    assert stop_serve(running) < 5.0


def chat(served: Served, model: str, content: str, **extra: Any) -> httpx.Response:
    body = {"model": model, "messages": [{"role": "user", "content": content}], "max_tokens": 3, **extra}
    with served.client() as client:
        return client.post("/v1/chat/completions", json=body)


class Heartbeat:
    """Polls /health (and optionally a normal chat) while an attack runs; the slowest answer of each."""

    def __init__(self, served: Served, chat_model: str | None = None) -> None:
        self.served, self.chat_model = served, chat_model
        self.slowest = {"health": 0.0, "chat": 0.0}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run)

    def _run(self) -> None:
        while not self._stop.is_set():
            for kind in ("health", "chat") if self.chat_model else ("health",):
                started = time.monotonic()
                if kind == "health":
                    status = httpx.get(f"{self.served.url}/health", timeout=30).status_code
                else:
                    status = chat(self.served, str(self.chat_model), "hi").status_code
                self.slowest[kind] = max(self.slowest[kind], time.monotonic() - started)
                if status != 200:
                    self.failures.append(f"{kind}: {status}")
            time.sleep(0.05)

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def test_a_schema_that_would_expand_without_end_is_a_quick_400(served: Served) -> None:
    baseline = served.rss_mb()
    fmt = {"type": "json_schema", "json_schema": {"name": "x", "schema": PATTERN_ATTACK}}
    tool = {"type": "function", "function": {"name": "f", "parameters": {"type": "object", "properties": {
        "x": {"type": "string", "pattern": "^(ab|c){1,3000000000}$"},
        "y": {"type": "array", "items": {"type": "string", "maxLength": 1000}, "maxItems": 1000}}}}}
    forced = {"tools": [tool], "tool_choice": {"type": "function", "function": {"name": "f"}}}
    with Heartbeat(served, "tiny") as beat, ThreadPoolExecutor(4) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda i: chat(served, "tiny", "hi", **(forced if i % 2 else {"response_format": fmt})),
                                range(24)))
        elapsed = time.monotonic() - started
    for response in answers:
        assert response.status_code == 400, response.text
        error = response.json()["error"]
        assert error["code"] == "invalid_schema" and "at most 1000 times" in error["message"]
    assert elapsed < ANSWER_WITHIN_S
    assert not beat.failures and beat.slowest["health"] < HEALTH_WITHIN_S and beat.slowest["chat"] < ANSWER_WITHIN_S
    assert served.rss_mb() < baseline + RSS_GROWTH_CEILING_MB


def test_a_recursive_schema_constrains_a_real_reply(served: Served) -> None:
    tree = {"type": "object", "properties": {"n": {"type": "integer"}, "kids": {"type": "array", "items": {"$ref": "#"},
            "maxItems": 2}}, "required": ["n", "kids"]}
    fmt = {"type": "json_schema", "json_schema": {"name": "tree", "schema": tree}}
    response = chat(served, "tiny", "a tree", response_format=fmt, max_tokens=40)
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    if choice["finish_reason"] == "stop":  # a whole tree (random weights may also run out of tokens)
        reply = json.loads(choice["message"]["content"])
        assert isinstance(reply["n"], int) and all(set(kid) == {"n", "kids"} for kid in reply["kids"])
    else:
        assert choice["message"]["content"].replace(" ", "").startswith('{"n":')
    chain: dict[str, Any] = {f"d{i}": {"type": "object", "properties": {"x": {"$ref": f"#/$defs/d{i + 1}"}}}
                             for i in range(40)} | {"d40": {"type": "integer"}}
    deep = {"$ref": "#/$defs/d0", "$defs": chain}
    fmt = {"type": "json_schema", "json_schema": {"name": "d", "schema": deep}}
    response = chat(served, "tiny", "deep", response_format=fmt)
    assert response.status_code == 400 and "nested too deeply" in response.json()["error"]["message"]


def test_a_template_that_loops_for_ever_is_stopped_and_holds_nothing(served: Served) -> None:
    baseline = served.rss_mb()
    # 24 endless renders, more than the 16 requests the server admits at once: none may keep its slot.
    # At most 12 at a time, so the queue keeps room for the heartbeat's own chat (a full queue answers 429
    # to every model by design).
    with Heartbeat(served, "tiny") as beat, ThreadPoolExecutor(12) as pool:
        started = time.monotonic()
        answers = list(pool.map(lambda _: chat(served, "hostile", "loop"), range(24)))
        elapsed = time.monotonic() - started
    statuses = sorted(r.status_code for r in answers)
    assert set(statuses) <= {400, 429} and statuses.count(400) >= 10, statuses
    for response in answers:
        if response.status_code == 400:
            error = response.json()["error"]
            assert error["code"] == "template_error" and "took too long" in error["message"]
    assert elapsed < 4 * ANSWER_WITHIN_S  # two waves
    assert not beat.failures and beat.slowest["health"] < HEALTH_WITHIN_S and beat.slowest["chat"] < ANSWER_WITHIN_S
    # Nothing leaked: no admission slot, no model thread. Every model still answers (no 429 for ever).
    assert chat(served, "hostile", "hello").status_code == 200
    assert chat(served, "tiny", "hello").status_code == 200
    assert served.rss_mb() < baseline + RSS_GROWTH_CEILING_MB


@pytest.mark.parametrize("attack", MEMORY_ATTACKS)
def test_a_template_that_builds_gigabytes_is_refused_and_leaves_no_memory(served: Served, attack: str) -> None:
    baseline = served.rss_mb()
    with Heartbeat(served) as beat:
        started = time.monotonic()
        response = chat(served, "hostile", attack)
        elapsed = time.monotonic() - started
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "template_error"
    # Refused by a value cap before the big value exists, or stopped by the memory cap (or, on a slow
    # machine, by the time limit first): never built in the server.
    assert any(reason in error["message"] for reason in ("implausibly large", "too much memory", "took too long"))
    if attack != "pile":
        assert "implausibly large" in error["message"]
    assert elapsed < ANSWER_WITHIN_S and not beat.failures and beat.slowest["health"] < HEALTH_WITHIN_S
    assert served.rss_mb() < baseline + RSS_GROWTH_CEILING_MB


def test_sigterm_stops_the_server_within_five_seconds_whatever_runs(
    tmp_path: Path, tiny_gguf: Path, hostile_gguf: Path, slow_gguf: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A long sandbox time limit, so that only SIGTERM can end the looping template; a long reply too.
    home = tmp_path / "sigterm-home"
    monkeypatch.setenv("ENCLAVE_HOME", str(home))
    models = {"tiny": tiny_gguf, "hostile": hostile_gguf, "slow": slow_gguf}
    running = start_serve(home, models, ENCLAVE_SANDBOX_TIMEOUT_S="60")
    try:
        long_reply = {"max_tokens": 3000, "temperature": 1.0, "logit_bias": {"2": -100, "4": -100}, "stream": True}
        results: list[Any] = []

        def call(model: str, content: str, **extra: Any) -> None:
            try:
                results.append(chat(running, model, content, **extra).status_code)
            except httpx.TransportError as exc:
                results.append(type(exc).__name__)

        threads = [threading.Thread(target=call, args=("hostile", "loop")) for _ in range(3)]
        threads.append(threading.Thread(target=call, args=("slow", "go on"), kwargs=long_reply))
        for thread in threads:
            thread.start()
        time.sleep(2.0)  # the templates loop in the sandbox, the reply streams
    finally:
        took = stop_serve(running)
    assert took < 5.0
    assert running.process.returncode == 0
    for thread in threads:
        thread.join(10)

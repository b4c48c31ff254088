"""Sandbox processes: time limit, memory cap, recovery after a kill, no secrets, and what a render costs."""

from __future__ import annotations

import os
import signal
import statistics
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from engine.models.templates import (
    BUILTIN_TEMPLATES,
    ChatTemplate,
    TemplateError,
    TemplateTimeout,
    render_chat,
    time_budget,
)
from engine.sandbox import SandboxError, SandboxLimits, SandboxPool, SandboxRefused, SandboxTimeout, jinja_env
from engine.sandbox.jinja_env import MAX_VALUE_CHARS, TemplateRefused

LOOP = "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}{% endfor %}"
# Each step stays under the value cap, but the pieces pile up: only the memory cap stops it.
PILE = "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 4000000 }}{% endfor %}{% endmacro %}{{ m() | length }}"
MESSAGES = [{"role": "user", "content": "Hi"}]


@pytest.fixture()
def pool() -> Iterator[SandboxPool]:
    """A pool of one child with a short time limit and a 256 MiB cap."""
    running = SandboxPool(SandboxLimits(timeout_s=0.5, memory_mb=256, processes=1))
    yield running
    running.close()


def test_a_render_that_runs_past_its_limit_is_stopped_and_the_next_one_works(pool: SandboxPool) -> None:
    started = time.monotonic()
    with pytest.raises(SandboxTimeout):
        pool.run("render", LOOP, {"messages": MESSAGES})
    assert time.monotonic() - started < 0.5 + 0.6
    assert pool.run("render", "{{ messages[0].content }}", {"messages": MESSAGES}) == "Hi"


def test_a_child_that_does_not_answer_is_killed_and_replaced(pool: SandboxPool) -> None:
    assert pool.run("ping") == "pong"
    (child,) = pool._idle
    os.kill(child.process.pid, signal.SIGSTOP)  # as stuck as a long call in C: the timer cannot stop it
    started = time.monotonic()
    with pytest.raises(SandboxTimeout):
        pool.run("ping")
    assert time.monotonic() - started < 0.5 + 1.0
    assert child.process.poll() is not None  # killed and reaped
    assert pool.run("ping") == "pong"


def test_memory_is_capped_in_the_child_and_given_back() -> None:
    pool = SandboxPool(SandboxLimits(timeout_s=10, memory_mb=256, processes=1))
    try:
        assert pool.run("ping") == "pong"
        (first,) = pool._idle
        started = time.monotonic()
        with pytest.raises(SandboxError, match="too much memory"):
            pool.run("render", PILE, {})
        assert time.monotonic() - started < 5
        assert first.process.poll() is not None  # the child that ran out was killed: its memory is back
        assert pool.run("ping") == "pong"
    finally:
        pool.close()


def test_the_child_gets_no_secrets_from_the_server(pool: SandboxPool, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCLAVE_PASSPHRASE", "canary-passphrase")
    assert pool.run("ping") == "pong"
    (child,) = pool._idle
    environ = Path(f"/proc/{child.process.pid}/environ").read_bytes()
    assert b"canary-passphrase" not in environ and b"ENCLAVE_PASSPHRASE" not in environ
    limits = Path(f"/proc/{child.process.pid}/limits").read_text()
    address_space = next(line for line in limits.splitlines() if line.startswith("Max address space"))
    assert str(256 * 1024 * 1024) in address_space
    # Nothing of the server's is open there (the vault, models): only its pipes and /dev/null.
    opened = {os.readlink(fd) for fd in Path(f"/proc/{child.process.pid}/fd").iterdir()}
    assert all(target.startswith("pipe:") or target == os.devnull for target in opened), opened


def test_closing_the_pool_ends_a_render_in_flight_at_once() -> None:
    pool = SandboxPool(SandboxLimits(timeout_s=30, processes=1))
    failures: list[BaseException] = []

    def render() -> None:
        try:
            pool.run("render", LOOP, {})
        except SandboxError as exc:
            failures.append(exc)

    thread = threading.Thread(target=render)
    thread.start()
    time.sleep(0.5)
    started = time.monotonic()
    pool.close()
    thread.join(5)
    assert not thread.is_alive() and time.monotonic() - started < 1.0
    assert failures and "stopping" in str(failures[0])


def test_all_renders_of_a_request_share_one_time_limit() -> None:
    slow = ChatTemplate("{% for i in range(100000) %}{% for j in range(60) %}{% endfor %}{% endfor %}x", "gguf", ())
    started = time.monotonic()
    with pytest.raises(TemplateTimeout), time_budget(1.0):
        for _ in range(10):  # each render alone might fit; together they may not run past the budget
            render_chat(slow, MESSAGES)
    assert time.monotonic() - started < 1.0 + 0.8


def test_errors_from_the_sandbox_are_template_errors() -> None:
    with pytest.raises(TemplateError, match="tried to reach Python internals"):
        render_chat(ChatTemplate("{{ ''.__class__.__mro__[1].__subclasses__() }}", "gguf", ()), MESSAGES)
    with pytest.raises(SandboxRefused):
        SandboxPool(SandboxLimits(processes=1)).run("render", "{{ raise_exception('no') }}", {})


def test_rendering_in_the_sandbox_keeps_a_normal_turn_fast() -> None:
    # The Gemma builtin template on a 20-message conversation: what each chat request pays, in the
    # sandbox (a round trip to a warm child) against rendering in this process.
    template = ChatTemplate(BUILTIN_TEMPLATES["gemma"], "builtin:gemma", ())
    conversation = [{"role": "user" if i % 2 == 0 else "assistant", "content": "A sentence or two. " * 10}
                    for i in range(20)]
    render_chat(template, conversation)  # warm: the child is started and has compiled the template

    def median_ms(render: object) -> float:
        times = []
        for _ in range(60):
            started = time.perf_counter()
            render()  # type: ignore[operator]
            times.append((time.perf_counter() - started) * 1000)
        return statistics.median(times)

    variables = {"messages": conversation, "add_generation_prompt": True}
    sandboxed = median_ms(lambda: render_chat(template, conversation))
    in_process = median_ms(lambda: jinja_env.render(template.source, variables))
    print(f"render: sandbox {sandboxed:.2f} ms, in process {in_process:.2f} ms")
    assert sandboxed < in_process + 5.0


@pytest.mark.parametrize(
    "source",
    [
        "{{ 'x'.center(1600000000) }}",
        "{{ 'x'.ljust(10**9) }}{{ 'x'.rjust(10**9) }}",
        "{{ 'x'.zfill(10**9) }}",
        "{{ ('\t' * 1000).expandtabs(10**7) }}",
        "{{ 'x' | center(10**9) }}",
        "{{ '%1600000000s' | format('x') }}",
        "{{ '%*s' | format(1600000000, 'x') }}",
        "{{ '%s%1000000000d' % ('x', 1) }}",
        "{{ '{:>1600000000}'.format('x') }}",
        "{{ range(100000) | join('x' * 40000) }}",
        "{{ ('x' * 1000).join(['a'] * 100000) }}",
        "{{ ('x' * 3000000) | replace('x', 'yy') }}",
        "{{ 'ab' | replace('', 'x' * 3000000) }}",
        "{{ ('a\n' * 100000) | indent(100000) }}",
        "{{ ('a ' * 100000) | wordwrap(1, wrapstring='x' * 1000) }}",
        "{{ ('x' * 100000).translate({120: 'y' * 1000}) }}",
        "{{ [1] | batch(10**9, 'x') | list | length }}",
        "{{ [1] | slice(10**9) | list | length }}",
        "{{ [['x'] * 100000] * 100 | sum(start=[]) }}",
        "{{ strftime_now('%c' * 10**6) }}",
        "{% set s %}{% for i in range(100000) %}{{ 'x' * 100 }}{% endfor %}{% endset %}{{ s | length }}",
    ],
)
def test_nothing_a_template_builds_may_exceed_the_value_cap(source: str) -> None:
    # In-process, as the child runs it: each refusal comes before the big value is built (fast, small).
    started = time.monotonic()
    with pytest.raises(TemplateRefused, match="implausibly large value"):
        jinja_env.render(source, {"messages": MESSAGES})
    assert time.monotonic() - started < 1.0


def test_templates_that_stay_under_the_caps_render_as_before() -> None:
    source = (
        "{{ 'ab' | center(6) }}|{{ 'x' | indent(2, first=True) }}|{{ ['a', 'b'] | join(', ') }}|"
        "{{ 'a-b' | replace('-', '+') }}|{{ '%05d' | format(42) }}|{{ '{:>4}'.format('z') }}|{{ '%s!' % 'hi' }}|"
        "{{ 'aaa bbb' | wordwrap(3) }}|{{ [1, 2, 3] | batch(2) | list | length }}|{{ 'x' * 3 }}"
    )
    assert jinja_env.render(source, {}) == "  ab  |  x|a, b|a+b|00042|   z|hi!|aaa\nbbb|2|xxx"
    assert len(jinja_env.render("{{ 'x' * n }}", {"n": MAX_VALUE_CHARS})) == MAX_VALUE_CHARS

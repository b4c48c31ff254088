"""engine.runtime.handoff: wake-ups asked for during a step run once each, at its end or at a flush."""

from __future__ import annotations

import threading

from engine.runtime import handoff


def test_wake_ups_in_a_step_run_once_each_at_its_end() -> None:
    calls: list[str] = []

    def a() -> None:
        calls.append("a")

    def b() -> None:
        calls.append("b")

    handoff.wake(a)  # outside a step: at once
    assert calls == ["a"]
    with handoff.step():
        for _ in range(5):
            handoff.wake(a)
            handoff.wake(b)
        with handoff.step():  # nested: the outer step runs them
            handoff.wake(a)
        assert calls == ["a"]
        handoff.flush()  # before a long decode
        assert calls == ["a", "a", "b"]
        handoff.wake(b)
    assert calls == ["a", "a", "b", "b"]


def test_another_threads_wake_ups_are_not_held_by_this_threads_step() -> None:
    calls: list[str] = []
    with handoff.step():
        thread = threading.Thread(target=handoff.wake, args=(lambda: calls.append("other"),))
        thread.start()
        thread.join()
        assert calls == ["other"]


def test_a_step_that_raises_still_runs_its_wake_ups() -> None:
    calls: list[str] = []
    try:
        with handoff.step():
            handoff.wake(lambda: calls.append("woken"))
            raise RuntimeError("decode failed")
    except RuntimeError:
        pass
    assert calls == ["woken"]
    handoff.wake(lambda: calls.append("after"))  # the step is over: at once again
    assert calls == ["woken", "after"]

"""Background work for the GUI: run a function off the GUI thread and get its outcome back as signals.

Modelled on anki's QueryOp and superqt's GeneratorWorker: the function runs on a pool thread, and its
result, error, progress and (for streams) chunks are delivered by queued signals to slots of a QObject
that lives on the GUI thread, so callbacks touch widgets only there.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import shiboken6
from PySide6.QtCore import QCoreApplication, QObject, QRunnable, QThreadPool, Signal, Slot

# A private pool: the global one is sized to the CPU count (2 here), and a long stream must not
# starve an import or an unlock queued behind it.
_POOL = QThreadPool()
_POOL.setMaxThreadCount(12)


def _keeper() -> QObject | None:
    """The parent of every task: the application, which lives on the GUI thread.

    A parented task's C++ object is owned by Qt, not by Python references, so the pool thread dropping
    its reference can never destroy it there; each task deletes itself later, on the GUI thread.
    """
    return QCoreApplication.instance()


def pool() -> QThreadPool:
    """The thread pool every Task runs on."""
    return _POOL


def wait_for_all(timeout_ms: int = 5000) -> bool:
    """Wait for running tasks (at exit and in tests); True when all finished."""
    return _POOL.waitForDone(timeout_ms)


class _Runnable(QRunnable):
    def __init__(self, body: Callable[[], None]) -> None:
        super().__init__()
        self._body = body
        self.setAutoDelete(True)

    def run(self) -> None:
        self._body()


class TaskContext:
    """What a background function may use: report progress and see whether it was cancelled."""

    def __init__(self, task: Task) -> None:
        self._task = task
        self.cancel_event = task.cancel_event

    def progress(self, done: int, total: int) -> None:
        """Report progress (any thread); delivered to the GUI thread."""
        self._task._progress_out.emit(done, total)

    @property
    def cancelled(self) -> bool:
        """True once the GUI asked this task to stop."""
        return self.cancel_event.is_set()


class Task(QObject):
    """Run `fn(ctx)` in the background; `on_success(result)` / `on_failure(exc)` run on the GUI thread."""

    succeeded = Signal(object)
    failed = Signal(object)
    progressed = Signal(object, object)
    finished = Signal()
    # Internal: emitted from the pool thread, received by this GUI-thread object (queued).
    _result_out = Signal(object)
    _error_out = Signal(object)
    _progress_out = Signal(object, object)

    def __init__(self, fn: Callable[[TaskContext], Any], owner: QObject | None = None) -> None:
        super().__init__(_keeper())
        self._fn = fn
        self._owner = owner
        self.cancel_event = threading.Event()
        self.running = False
        self._result_out.connect(self._deliver_result)
        self._error_out.connect(self._deliver_error)
        self._progress_out.connect(self._deliver_progress)

    def on_success(self, callback: Callable[[Any], None]) -> Task:
        """Call `callback(result)` on the GUI thread when `fn` returns."""
        self.succeeded.connect(callback)
        return self

    def on_failure(self, callback: Callable[[BaseException], None]) -> Task:
        """Call `callback(exc)` on the GUI thread when `fn` raises."""
        self.failed.connect(callback)
        return self

    def on_progress(self, callback: Callable[[int, int], None]) -> Task:
        """Call `callback(done, total)` on the GUI thread for each progress report."""
        self.progressed.connect(callback)
        return self

    def start(self) -> Task:
        """Queue the work on the pool."""
        self.running = True
        _POOL.start(_Runnable(self._body))
        return self

    def cancel(self) -> None:
        """Ask the function to stop (it checks `ctx.cancelled` or passes `ctx.cancel_event` on)."""
        self.cancel_event.set()

    def _body(self) -> None:
        try:
            result = self._fn(TaskContext(self))
        except BaseException as exc:  # delivered, never lost on a pool thread
            self._error_out.emit(exc)
        else:
            self._result_out.emit(result)

    def _owner_alive(self) -> bool:
        # A dialog closed while its task ran must not get callbacks into deleted widgets.
        return self._owner is None or shiboken6.isValid(self._owner)

    @Slot(object)
    def _deliver_result(self, result: Any) -> None:
        self._finish(self.succeeded, result)

    @Slot(object)
    def _deliver_error(self, exc: BaseException) -> None:
        self._finish(self.failed, exc)

    def _finish(self, signal: Any, value: Any) -> None:
        self.running = False
        try:
            if self._owner_alive():
                signal.emit(value)
                self.finished.emit()
        finally:
            self.deleteLater()

    @Slot(object, object)
    def _deliver_progress(self, done: int, total: int) -> None:
        if self.running and self._owner_alive():
            self.progressed.emit(done, total)


def run_task(
    owner: QObject | None,
    fn: Callable[[TaskContext], Any],
    on_success: Callable[[Any], None] | None = None,
    on_failure: Callable[[BaseException], None] | None = None,
) -> Task:
    """Shorthand: build a Task, attach the callbacks and start it."""
    task = Task(fn, owner)
    if on_success is not None:
        task.on_success(on_success)
    if on_failure is not None:
        task.on_failure(on_failure)
    return task.start()


class StreamTask(Task):
    """A Task that starts a chat turn, streams its chunks as `chunk(str)`, then stores it.

    `start_turn(on_load)` runs on the pool thread (it may load a model, reporting to `on_load`, and
    writes the prompt to the vault); it returns an `engine.chat.Turn`. The result is its `TurnResult`.
    Before the first chunk: `loading(model, fraction)` while the model loads, then `started(turn)` once
    the reply is under way. `stop()` cancels within one token, even before the first one.
    """

    chunk = Signal(str)
    loading = Signal(str, float)  # model name, 0…1
    started = Signal(object)  # engine.chat.Turn (its conversation_id and thinks are read on the GUI thread)
    _chunk_out = Signal(str)
    _loading_out = Signal(str, float)
    _started_out = Signal(object)

    def __init__(self, start_turn: Callable[[Callable[[Any], None]], Any], owner: QObject | None = None) -> None:
        super().__init__(lambda ctx: self._stream(ctx), owner)
        self._start_turn = start_turn
        self._turn: Any = None
        self._chunk_out.connect(self._deliver_chunk)
        self._loading_out.connect(self._deliver_loading)
        self._started_out.connect(self._deliver_started)

    def cancel(self) -> None:
        """Cancel the generation (thread-safe; the partial reply is still stored)."""
        super().cancel()
        turn = self._turn
        if turn is not None:
            turn.generation.cancel()

    stop = cancel

    @property
    def stopped(self) -> bool:
        """True once stop() was called."""
        return self.cancel_event.is_set()

    def _stream(self, ctx: TaskContext) -> Any:
        turn = self._start_turn(lambda progress: self._loading_out.emit(progress.model, progress.fraction))
        self._turn = turn
        self._started_out.emit(turn)
        # stop() may have run before the turn existed: it could not cancel it then.
        if ctx.cancelled:
            turn.generation.cancel()
        for piece in turn:
            if piece.text:
                self._chunk_out.emit(piece.text)
        return turn.finish()

    @Slot(str)
    def _deliver_chunk(self, text: str) -> None:
        if self._owner_alive():
            self.chunk.emit(text)

    @Slot(str, float)
    def _deliver_loading(self, model: str, fraction: float) -> None:
        if self.running and self._owner_alive():
            self.loading.emit(model, fraction)

    @Slot(object)
    def _deliver_started(self, turn: Any) -> None:
        if self.running and self._owner_alive():
            self.started.emit(turn)

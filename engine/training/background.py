"""Training jobs run in the background (the OpenAI fine-tuning endpoints): one at a time, with events and
cancel. The jobs themselves are the vault's (engine.training.jobs); this keeps the threads and the recent
events of the jobs this process runs."""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from engine.errors import EnclaveError
from engine.training.jobs import Progress, Training, TrainRequest

MAX_EVENTS = 500


@dataclass(frozen=True)
class Event:
    """One line of a job's history, as `GET /v1/fine_tuning/jobs/{id}/events` lists it."""

    seq: int
    created_at: int
    level: str  # "info", "warn", "error"
    message: str
    data: dict[str, Any] | None = None


class BackgroundTraining:
    """Starts `Training.train` on a thread and keeps what it reports."""

    def __init__(self, training: Training) -> None:
        self.training = training
        self._lock = threading.Lock()
        self._events: dict[str, deque[Event]] = {}
        self._cancels: dict[str, threading.Event] = {}
        self._errors: dict[str, str] = {}
        self._seq = 0

    def start(self, request: TrainRequest, *, timeout_s: float = 120.0) -> str:
        """Validate and start a job; returns its id once its record exists (errors before that are raised)."""
        cancel = threading.Event()
        started: dict[str, Any] = {}
        ready = threading.Event()

        def run() -> None:
            job_id: str | None = None
            try:
                for progress in self.training.train(request, cancel):
                    if progress.job_id and job_id is None:
                        job_id = progress.job_id
                        with self._lock:
                            self._events[job_id] = deque(maxlen=MAX_EVENTS)
                            self._cancels[job_id] = cancel
                        started["id"] = job_id
                        ready.set()
                    if job_id is not None:
                        self._add(job_id, progress)
            except EnclaveError as exc:
                if job_id is None:
                    started["error"] = exc
                    ready.set()
                    return
                if not cancel.is_set():
                    self._fail(job_id, str(exc))
                self._note(job_id, "warn" if cancel.is_set() else "error", str(exc))
            except Exception as exc:  # a bug or an out-of-memory: the job is marked failed, the server goes on
                if job_id is None:
                    started["error"] = exc
                    ready.set()
                    return
                self._fail(job_id, f"training failed: {type(exc).__name__}")
                self._note(job_id, "error", f"training failed: {type(exc).__name__}")

        threading.Thread(target=run, name="training", daemon=True).start()
        if not ready.wait(timeout_s):
            raise EnclaveError("the training job did not start in time")
        if "error" in started:
            raise started["error"]
        return str(started["id"])

    def _add(self, job_id: str, progress: Progress) -> None:
        data = None
        if progress.phase == "train":
            data = {"step": progress.step, "total_steps": progress.total, "train_loss": progress.loss}
        self._note(job_id, "info", progress.line(), data)

    def _note(self, job_id: str, level: str, message: str, data: dict[str, Any] | None = None) -> None:
        with self._lock:
            self._seq += 1
            self._events.setdefault(job_id, deque(maxlen=MAX_EVENTS)).append(
                Event(self._seq, int(time.time()), level, message, data)
            )

    def _fail(self, job_id: str, message: str) -> None:
        self._errors[job_id] = message
        job = self.training.vault.training_jobs.get(job_id)
        self.training.vault.training_jobs.update(job_id, {**job.body, "status": "failed", "error": message})

    def cancel(self, job_id: str) -> bool:
        """Ask a running job to stop at its next step (it keeps a checkpoint); False if it is not running here."""
        with self._lock:
            cancel = self._cancels.get(job_id)
        if cancel is None:
            return False
        cancel.set()
        return True

    def events(self, job_id: str) -> list[Event]:
        """The recent events of a job this process ran, oldest first."""
        with self._lock:
            return list(self._events.get(job_id, ()))

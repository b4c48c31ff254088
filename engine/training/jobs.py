"""Training jobs: run one (with progress, cancel and resume), register its adapter, serve it, withdraw it.

A job's record lives sealed in the vault: base model, dataset SHA-256, row count, data subjects, legal
basis, hyperparameters, losses, evaluation, the adapter's SHA-256. Its checkpoints and its adapter are
sealed blobs beside it. The model registry holds only the adapted model's name and hashes, so it can be
listed; the adapter itself is decrypted into memory when the runtime loads it.
"""

from __future__ import annotations

import contextlib
import hashlib
import random
import threading
import time
from collections.abc import Iterator
from dataclasses import asdict, dataclass, replace
from functools import cached_property
from typing import TYPE_CHECKING, Any

from engine.errors import IntegrityError, NotFoundError, UserError
from engine.models.registry import AdapterRef, ModelRecord, ModelRegistry
from engine.policy import audit_events
from engine.runtime.manager import Runtime
from engine.training.dataset import DatasetRow
from engine.training.evaluation import side_by_side
from engine.training.library import DatasetInfo, DatasetLibrary
from engine.vault import Vault
from engine.vault.training import StoredJob

if TYPE_CHECKING:
    from engine.training.background import BackgroundTraining

UNFINISHED = ("running", "stopped", "failed")  # resumable from their last checkpoint
MAX_LEGAL_BASIS_CHARS = 500


class TrainingStopped(UserError):
    """Training was cancelled; its last checkpoint is kept for a resume."""


@dataclass(frozen=True)
class TrainRequest:
    """What `enclave train` asks for."""

    model: str
    dataset: str
    name: str
    epochs: int | None = None
    rank: int | None = None
    lr: float | None = None
    legal_basis: str | None = None
    restart: bool = False  # discard an unfinished job of the same name instead of resuming it
    checkpoint_every: int | None = None  # steps between checkpoints


@dataclass(frozen=True)
class Progress:
    """One line of progress: what is happening, the step, the loss and the time left."""

    phase: str  # "prepare", "train", "evaluate", "done"
    message: str = ""
    step: int = 0
    total: int = 0
    epoch: int = 0
    loss: float | None = None
    eta_s: float | None = None
    tokens_per_s: float | None = None
    job_id: str | None = None  # set on the line that names the job (its record exists from then on)

    def line(self) -> str:
        """How the CLI prints it."""
        if self.phase != "train":
            return self.message
        eta = f"{self.eta_s:,.0f}s left" if self.eta_s is not None else "…"
        rate = f", {self.tokens_per_s:,.0f} tokens/s" if self.tokens_per_s else ""
        return f"step {self.step}/{self.total}  epoch {self.epoch}  loss {self.loss:.4f}  {eta}{rate}"


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class Training:
    """Fine-tuning as the engine offers it: the `engine.training` room, with explicit collaborators."""

    def __init__(
        self,
        vault: Vault,
        registry: ModelRegistry,
        *,
        actor: str,
        runtime: Runtime | None = None,
        threads: int | None = None,
    ) -> None:
        self.vault = vault
        self.registry = registry
        self.actor = actor
        self.runtime = runtime  # the serving runtime, if any: withdrawn adapters are unloaded from it
        self.threads = threads
        self.datasets = DatasetLibrary(vault, actor=actor)
        self._lock = threading.Lock()  # one training at a time in this process: it takes every core

    @property
    def busy(self) -> bool:
        """True while a training runs in this process."""
        return self._lock.locked()

    @cached_property
    def background(self) -> BackgroundTraining:
        """Jobs started for the API, on a thread of their own."""
        from engine.training.background import BackgroundTraining

        return BackgroundTraining(self)

    # -- records -------------------------------------------------------------------------------

    def jobs(self) -> list[StoredJob]:
        """Every training job, oldest first."""
        return self.vault.training_jobs.list()

    def job_for(self, name: str, *, statuses: tuple[str, ...] | None = None) -> StoredJob | None:
        """The newest job that made (or is making) the adapted model `name`."""
        found = [
            j for j in self.jobs() if j.body["name"] == name and (statuses is None or j.body["status"] in statuses)
        ]
        return found[-1] if found else None

    def info(self, name: str) -> dict[str, Any]:
        """An adapted model's provenance and evaluation, for `models info --json`."""
        model = self.registry.get(name)
        if model.adapter is None:
            raise NotFoundError(f"{name!r} is not an adapted model")
        job = self.vault.training_jobs.get(model.adapter.job_id).body
        keep = ("dataset", "dataset_sha256", "rows", "held_out_rows", "subjects", "legal_basis", "hyperparameters")
        return {
            "base_model": job["base"],
            "base_sha256": job["base_sha256"],
            "base_licence": job.get("base_licence"),
            "adapter_sha256": job.get("adapter_sha256"),
            **{k: job.get(k) for k in keep},
            "status": job["status"],
            "stack": job.get("stack"),
            "device": job.get("device"),
            "trained_at": job.get("finished_at"),
            "evaluation": job.get("evaluation"),
            "withdrawn": job.get("withdrawn"),
            "job_id": model.adapter.job_id,
            "losses": job.get("losses", []),  # [step, training loss] as it trained
        }

    def dataset_from_conversations(
        self, ids: list[str], name: str, *, subject: str | None = None, model: str | None = None
    ) -> DatasetInfo:
        """Build and store a dataset from the selected conversations, one row each, validated like an import;
        with `model`, the rows' token lengths are checked against its context now rather than at training."""
        from engine.training.conversations import SOURCE, build_rows

        self.datasets.check_new_name(name)  # before decrypting any conversation
        rows = build_rows(self.vault, ids, subject=subject)
        if model is not None:
            self.check_lengths(model, rows)
        return self.datasets.store(rows, name, source=SOURCE, audit={"source": SOURCE, "conversations": len(rows)})

    def check_lengths(self, model: str, rows: list[DatasetRow]) -> None:
        """TooLong naming each row longer than the context `model` serves with."""
        from engine.training.tokens import RowTokenizer

        tokenizer = RowTokenizer(self.registry.get(model))
        try:
            tokenizer.examples(rows)
        finally:
            tokenizer.close()

    # -- serving (AdapterSource) -----------------------------------------------------------------

    def adapter_bytes(self, record: ModelRecord) -> bytes:
        """The adapter of an adapted model, decrypted into memory and checked against its SHA-256."""
        if record.adapter is None:
            raise UserError(f"{record.name!r} is not an adapted model")
        job = self.vault.training_jobs.get(record.adapter.job_id).body
        if job["status"] != "done" or job.get("withdrawn"):
            raise UserError(f"model {record.name!r} is withdrawn from serving")
        data = self.vault.training_jobs.get_blob(record.adapter.job_id, job["adapter_blob"])
        if _sha256(data) != record.adapter.adapter_sha256:
            raise IntegrityError(f"the adapter of {record.name!r} does not match its SHA-256")
        record_use = {"model": record.name, "adapter_sha256": record.adapter.adapter_sha256}
        audit_events.record(self.vault, "adapter_load", actor=self.actor, details=record_use)
        return data

    # -- training --------------------------------------------------------------------------------

    def train(self, request: TrainRequest, cancel: threading.Event | None = None) -> Iterator[Progress]:
        """Train (or resume) a LoRA adapter and register it; yields progress. TrainingStopped on cancel."""
        cancel = cancel or threading.Event()
        if not self._lock.acquire(blocking=False):
            raise UserError("a training job is already running in this process")
        try:
            yield from self._train(request, cancel)
        finally:
            self._lock.release()

    def retrain(self, name: str, cancel: threading.Event | None = None) -> Iterator[Progress]:
        """Train an adapted model again, same settings, on its dataset as it is now (a subject's rows gone)."""
        job = self.job_for(name, statuses=("done",))
        if job is None:
            raise NotFoundError(f"no finished training of {name!r} to repeat")
        body = job.body
        hp = body["hyperparameters"]
        request = TrainRequest(
            body["base"], body["dataset"], name, hp["epochs"], hp["rank"], hp["lr"], body.get("legal_basis"), True
        )
        yield from self.train(request, cancel)

    def _train(self, request: TrainRequest, cancel: threading.Event) -> Iterator[Progress]:
        from engine.training.tokens import RowTokenizer

        base = self.registry.get(request.model)
        if base.adapter is not None:
            raise UserError(f"{base.name!r} is itself adapted; train on its base model {base.adapter.base!r}")
        existing = self._check_name(request.name, replace=request.restart)
        dataset = self.datasets.find(request.dataset)
        legal_basis = (request.legal_basis or "").strip() or None
        if legal_basis and len(legal_basis) > MAX_LEGAL_BASIS_CHARS:
            raise UserError(f"the legal basis is at most {MAX_LEGAL_BASIS_CHARS} characters")
        if dataset.subjects and not legal_basis:
            raise UserError(
                "this dataset holds data subjects' data: say on what legal basis it is used, with --legal-basis"
            )
        rows = self.datasets.rows(dataset)
        train_rows = [r for r in rows if not r.held_out]
        held_rows = [r for r in rows if r.held_out]
        if not train_rows or not held_rows:
            raise UserError(f"dataset {dataset.name!r} needs rows both to train on and to hold out")

        yield Progress("prepare", f"tokenising {len(rows)} rows with {base.name}'s template and vocabulary")
        tokenizer = RowTokenizer(base)
        try:
            examples = tokenizer.examples(rows)  # TooLong names the rows: nothing is created before this
        finally:
            tokenizer.close()
        by_line = dict(zip((r.line for r in rows), examples, strict=True))
        train_examples = [by_line[r.line] for r in train_rows]
        held_examples = [by_line[r.line] for r in held_rows]

        # Imported only now: PyTorch takes seconds to load, and nothing before this step needs it.
        try:
            from engine.training.lora import Hyperparameters, LoraTrainer, default_threads, describe_stack, pick_device
        except ImportError as exc:
            raise UserError(
                f"fine-tuning needs PyTorch and PEFT ({exc.name} is missing): pip install 'enclave[train]'"
            ) from None

        job = self._resumable(request, base, dataset)
        stored = Hyperparameters()
        if job is not None:
            hp = Hyperparameters(**job.body["hyperparameters"])
            asked = {"epochs": request.epochs, "rank": request.rank, "lr": request.lr}
            if request.checkpoint_every:
                hp = replace(hp, checkpoint_every=request.checkpoint_every).validated()
            clash = [k for k, v in asked.items() if v is not None and v != getattr(hp, k)]
            if clash:
                raise UserError(
                    f"an unfinished training of {request.name!r} used other {', '.join(clash)}; "
                    "give the same settings to resume it, or add --restart to start over"
                )
        else:
            hp = replace(
                stored,
                epochs=request.epochs or stored.epochs,
                rank=request.rank or stored.rank,
                lr=request.lr or stored.lr,
                checkpoint_every=request.checkpoint_every or stored.checkpoint_every,
            ).validated()

        if job is None:
            if existing is not None:
                self._discard(existing)
            job = self.vault.training_jobs.create(
                {
                    "name": request.name,
                    "status": "running",
                    "base": base.name,
                    "base_sha256": base.sha256,
                    "base_licence": base.facts.license,
                    "dataset": dataset.name,
                    "dataset_id": dataset.id,
                    "dataset_sha256": dataset.sha256,
                    "rows": len(train_rows),
                    "held_out_rows": len(held_rows),
                    "subjects": list(dataset.subjects),
                    "legal_basis": legal_basis,
                    "hyperparameters": asdict(hp),
                    "stack": describe_stack(),
                    "device": pick_device(),
                    "step": 0,
                    "losses": [],
                }
            )
            audit_events.record(
                self.vault,
                "training_start",
                actor=self.actor,
                details={"name": request.name, "base_sha256": base.sha256, "dataset_sha256": dataset.sha256},
            )
        body = dict(job.body)
        yield Progress("prepare", f"training job {job.id}", job_id=job.id)
        yield Progress("prepare", f"loading {base.name} for training on {body['device']}")
        trainer = LoraTrainer(base.path, base.facts.architecture, hp, threads=self.threads or default_threads())
        if body.get("checkpoint_blob"):
            trainer.load_state(self.vault.training_jobs.get_blob(job.id, body["checkpoint_blob"]))
            yield Progress("prepare", f"resuming from the checkpoint at step {trainer.step}")
        if "loss_before" not in body:
            body["loss_before"] = trainer.base_loss(held_examples)
            body = self.vault.training_jobs.update(job.id, body).body

        total = hp.epochs * len(train_examples)
        started, done_tokens, first_step = time.monotonic(), 0, trainer.step

        def checkpoint(status: str) -> None:
            nonlocal body
            blob = self.vault.training_jobs.put_blob(
                job.id, trainer.save_state(), replaces=body.get("checkpoint_blob")
            )
            body = self.vault.training_jobs.update(
                job.id, {**body, "checkpoint_blob": blob, "step": trainer.step, "status": status}
            ).body

        while trainer.step < total:
            if cancel.is_set():
                checkpoint("stopped")
                stop = {"name": request.name, "step": trainer.step}
                audit_events.record(self.vault, "training_stop", actor=self.actor, details=stop)
                raise TrainingStopped(
                    f"training stopped at step {trainer.step} of {total}; run the same command again to resume"
                )
            epoch, index = divmod(trainer.step, len(train_examples))
            order = list(range(len(train_examples)))
            random.Random(hp.seed * 1000 + epoch).shuffle(order)  # the same order again on a resume
            example = train_examples[order[index]]
            loss = trainer.train_step(example)
            done_tokens += len(example.tokens)
            body["losses"] = [*body["losses"], [trainer.step, round(loss, 5)]][-2000:]
            elapsed = time.monotonic() - started
            per_step = elapsed / max(1, trainer.step - first_step)
            yield Progress(
                "train",
                step=trainer.step,
                total=total,
                epoch=epoch + 1,
                loss=loss,
                eta_s=per_step * (total - trainer.step),
                tokens_per_s=done_tokens / elapsed if elapsed > 0 else None,
            )
            if trainer.step % hp.checkpoint_every == 0 and trainer.step < total:
                checkpoint("running")

        yield Progress("evaluate", "measuring the held-out loss and writing the adapter")
        loss_after = trainer.loss(held_examples)
        adapter = trainer.adapter_gguf()
        adapter_sha = _sha256(adapter)
        blob = self.vault.training_jobs.put_blob(job.id, adapter, replaces=body.get("checkpoint_blob"))
        body = {
            **body,
            "adapter_blob": blob,
            "adapter_sha256": adapter_sha,
            "checkpoint_blob": None,
            "step": total,
            "status": "done",
            "finished_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "evaluation": {"held_out_loss_before": body["loss_before"], "held_out_loss_after": loss_after},
        }
        body = self.vault.training_jobs.update(job.id, body).body
        ref = AdapterRef(base.name, base.sha256, adapter_sha, job.id)
        self.registry.register_adapter(request.name, base, ref)
        if self.runtime is not None:
            self.runtime.unload(request.name)  # a retrained model must not keep serving the old adapter
        audit_events.record(
            self.vault,
            "training_finish",
            actor=self.actor,
            details={
                "name": request.name,
                "adapter_sha256": adapter_sha,
                "base_sha256": base.sha256,
                "dataset_sha256": dataset.sha256,
                "rows": len(train_rows),
            },
        )
        yield Progress("evaluate", "answering held-out prompts with the base and the adapted model")
        # The serving runtime when there is one (the engine's), else one of our own for the comparison.
        runtime = self.runtime or Runtime(self.registry, adapters=self)
        try:
            samples = side_by_side(runtime, base.name, request.name, held_rows)
        finally:
            if runtime is not self.runtime:
                runtime.close()
        body["evaluation"] = {**body["evaluation"], "samples": samples}
        self.vault.training_jobs.update(job.id, body)
        yield Progress(
            "done",
            f"registered {request.name}: held-out loss {body['loss_before']:.4f} → {loss_after:.4f}; "
            f"adapter sha256 {adapter_sha}",
        )

    def _check_name(self, name: str, *, replace: bool) -> StoredJob | None:
        """The finished job that training `name` again replaces (with `replace`), or None."""
        try:
            model = self.registry.get(name)
        except NotFoundError:
            return None
        if model.adapter is None:
            raise UserError(f"a model called {name!r} already exists; pick another name")
        if not replace:
            raise UserError(
                f"an adapted model {name!r} already exists; retrain it with `enclave train --retrain {name}`, "
                "or remove it first"
            )
        return self.job_for(name, statuses=("done",))

    def _resumable(self, request: TrainRequest, base: ModelRecord, dataset: DatasetInfo) -> StoredJob | None:
        """An unfinished job for the same adapter, base and data, to continue; others are discarded."""
        job = self.job_for(request.name, statuses=UNFINISHED)
        if job is None:
            return None
        same = job.body["base_sha256"] == base.sha256 and job.body["dataset_sha256"] == dataset.sha256
        if same and not request.restart:
            return job
        self.vault.training_jobs.erase(job.id)
        audit_events.record(self.vault, "training_discard", actor=self.actor, details={"name": request.name})
        return None

    def _discard(self, job: StoredJob) -> None:
        """Crypto-shred a finished job being replaced by a retraining (its adapter and record)."""
        self.vault.training_jobs.erase(job.id)

    # -- removal and erasure -----------------------------------------------------------------------

    def remove(self, name: str) -> None:
        """Delete an adapted model: its registry entry, its adapter, checkpoints and job record."""
        model = self.registry.get(name)
        if model.adapter is None:
            raise UserError(f"{name!r} is not an adapted model")
        if self.runtime is not None:
            self.runtime.unload(name)
        self.registry.remove(name)
        for job in self.jobs():
            if job.body["name"] == name:
                self.vault.training_jobs.erase(job.id)
        audit_events.record(self.vault, "adapter_remove", actor=self.actor, details={"name": name})

    def erase_subject(self, label: str, *, actor: str) -> dict[str, Any]:
        """A data subject is erased: their dataset rows go, every adapter trained on their data is withdrawn
        from serving and flagged, and unfinished trainings on it lose their checkpoints."""
        rows = self.datasets.erase_subject(label)
        withdrawn: list[str] = []
        for job in self.jobs():
            body = job.body
            if label not in body.get("subjects", ()):
                continue
            if body["status"] in UNFINISHED:
                self.vault.training_jobs.erase(job.id)
                continue
            if body["status"] != "done" or body.get("withdrawn"):
                continue
            body = {**body, "withdrawn": {"reason": "data subject erased", "subject": label, "at": _now()}}
            self.vault.training_jobs.update(job.id, body)
            # A model removed from the registry by hand still has its record saying why it was withdrawn.
            with contextlib.suppress(NotFoundError):
                self.registry.set_withdrawn(body["name"], True)
            if self.runtime is not None:
                self.runtime.unload(body["name"])
            withdrawn.append(body["name"])
        details = {"rows": sum(rows.values()), "datasets": len(rows), "adapters": withdrawn}
        audit_events.record(self.vault, "adapter_withdraw", actor=actor, details=details)
        return details


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


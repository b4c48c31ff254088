"""OpenAI's Files (purpose `fine-tune`) and fine-tuning jobs, so existing scripts train here.

`POST /v1/files` imports a dataset into the vault (a file id is a dataset id); `POST /v1/fine_tuning/jobs`
starts a training job on a thread of the server; list, retrieve, cancel and events follow OpenAI's
reference. Only API keys created with `--train` may call them. The routes convert; engine.training works.
"""

from __future__ import annotations

import secrets
import time
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio
from fastapi import APIRouter, File, Form, Query, Request, Security, UploadFile
from pydantic import BaseModel, ConfigDict, Field

from engine.api import routes_stores
from engine.api.errors import ApiError
from engine.api.routes_generate import ERRORS, bearer
from engine.api.services import context_of, services_of
from engine.documents.stores import UPLOAD_PREFIX
from engine.errors import NotFoundError, UserError
from engine.training.jobs import Training, TrainRequest
from engine.training.library import DatasetInfo
from engine.vault.training import StoredJob

router = APIRouter(dependencies=[Security(bearer)])
BASE_LR = 2e-4  # learning_rate_multiplier 1.0
STATUS = {"running": "running", "stopped": "cancelled", "done": "succeeded", "failed": "failed"}


class Hyper(BaseModel):
    """OpenAI's hyperparameters object ("auto" means our default)."""

    model_config = ConfigDict(extra="ignore")
    n_epochs: int | str = "auto"
    learning_rate_multiplier: float | str = "auto"
    batch_size: int | str = "auto"


class Page(BaseModel):
    """A list's query: `limit` (unknown parameters are refused, as the contract says)."""

    model_config = ConfigDict(extra="forbid")
    limit: int = Field(default=20, ge=1, le=100)


class EventPage(Page):
    """A job's events' query."""

    limit: int = Field(default=20, ge=1, le=500)


class JobCreate(BaseModel):
    """`POST /v1/fine_tuning/jobs` body."""

    model_config = ConfigDict(extra="ignore")
    model: str = Field(max_length=200)
    training_file: str = Field(max_length=100)
    hyperparameters: Hyper = Field(default_factory=Hyper)
    suffix: str | None = Field(default=None, max_length=40)
    metadata: dict[str, str] | None = None  # "legal_basis" is recorded with the adapter


def _training(request: Request) -> Training:
    """The engine's training room, for a key allowed to train (403 otherwise)."""
    context = context_of(request)
    if not context.key.train:
        raise ApiError(403, "this API key may not train models (create one with `--train`)", code="permission_denied")
    return services_of(request).engine.training


def _stamp(text: str | None) -> int | None:
    return int(datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()) if text else None


def _file(info: DatasetInfo, size: int | None = None) -> dict[str, Any]:
    return {
        "id": f"file-{info.id}",
        "object": "file",
        "bytes": size or 0,
        "created_at": _stamp(info.created_at),
        "filename": info.source or info.name,
        "purpose": "fine-tune",
        "status": "processed",
        "status_details": None,
    }


def _dataset_id(file_id: str) -> str:
    if not file_id.startswith("file-"):
        raise ApiError(404, f"no file {file_id!r}", param="file_id", code="not_found")
    return file_id.removeprefix("file-")


def _job(job: StoredJob) -> dict[str, Any]:
    body = job.body
    hp = body["hyperparameters"]
    status = STATUS.get(body["status"], "failed")
    served = status == "succeeded" and not body.get("withdrawn")
    error = {"code": "training_failed", "message": body["error"], "param": None} if body.get("error") else None
    return {
        "id": f"ftjob-{job.id}",
        "object": "fine_tuning.job",
        "created_at": _stamp(job.created_at),
        "finished_at": _stamp(body.get("finished_at")),
        "model": body["base"],
        "fine_tuned_model": body["name"] if served else None,
        "organization_id": "enclave",
        "status": status,
        "hyperparameters": {"n_epochs": hp["epochs"], "batch_size": 1, "learning_rate_multiplier": hp["lr"] / BASE_LR},
        "training_file": f"file-{body['dataset_id']}",
        "validation_file": None,
        "result_files": [],
        "trained_tokens": None,
        "error": error,
        "seed": hp.get("seed", 0),
        "estimated_finish": None,
        "integrations": [],
        "metadata": {"legal_basis": body["legal_basis"]} if body.get("legal_basis") else None,
        "method": {"type": "supervised"},
    }


def _find_job(training: Training, job_id: str) -> StoredJob:
    try:
        return training.vault.training_jobs.get(job_id.removeprefix("ftjob-"))
    except NotFoundError:
        raise ApiError(404, f"no fine-tuning job {job_id!r}", param="fine_tuning_job_id", code="not_found") from None


@router.post("/v1/files", responses=ERRORS, tags=["openai"])
async def upload_file(
    request: Request,
    file: UploadFile = File(...),  # noqa: B008 (FastAPI's idiom)
    purpose: Literal["fine-tune", "assistants", "user_data"] = Form(...),  # noqa: B008
) -> dict[str, Any]:
    """Upload a JSONL dataset (purpose `fine-tune`: validated whole, bad rows → 400) or a document for vector
    stores (purpose `assistants` or `user_data`); either is stored encrypted."""
    if purpose in routes_stores.UPLOAD_PURPOSES:
        stores = routes_stores.stores_of(request)
        content = await file.read()  # bounded by the request body cap
        filename = file.filename or "upload"
        return routes_stores.upload_json(await routes_stores.run(lambda: stores.upload(filename, content)))
    training = _training(request)
    data = await file.read()  # bounded by the request body cap
    name = f"upload-{secrets.token_hex(6)}"
    source = (file.filename or "upload.jsonl")[:200]
    try:
        info = await anyio.to_thread.run_sync(lambda: training.datasets.import_bytes(data, name, source=source))
    except UserError as exc:  # its rows, not its shape: the one message says which lines and why
        raise ApiError(400, str(exc), param="file", code="invalid_file") from None
    return _file(info, len(data))


@router.get("/v1/files", responses=ERRORS, tags=["openai"])
async def list_files(request: Request) -> dict[str, Any]:
    """The key's uploaded documents, and the datasets (fine-tune files) for a key that may train."""
    stores = routes_stores.stores_of(request)
    uploads = [routes_stores.upload_json(d) for d in await routes_stores.run(stores.files)]
    key = context_of(request).key
    if not key.train:
        if not uploads and not key.collections_write:
            _training(request)  # a key that may neither train nor upload hears why (403)
        return {"object": "list", "data": uploads, "has_more": False}
    training = _training(request)
    infos = await anyio.to_thread.run_sync(training.datasets.list)
    return {"object": "list", "data": uploads + [_file(i) for i in infos], "has_more": False}


@router.get("/v1/files/{file_id}", responses=ERRORS, tags=["openai"])
async def get_file(file_id: str, request: Request) -> dict[str, Any]:
    """One upload or dataset as a file object."""
    if file_id.startswith(UPLOAD_PREFIX):
        stores = routes_stores.stores_of(request)
        return routes_stores.upload_json(await routes_stores.run(lambda: stores.file(file_id), "file_id"))
    training = _training(request)
    try:
        info = await anyio.to_thread.run_sync(lambda: training.datasets.get(_dataset_id(file_id)))
    except NotFoundError:
        raise ApiError(404, f"no file {file_id!r}", param="file_id", code="not_found") from None
    return _file(info)


@router.delete("/v1/files/{file_id}", responses=ERRORS, tags=["openai"])
async def delete_file(file_id: str, request: Request) -> dict[str, Any]:
    """Crypto-shred an upload or a dataset."""
    if file_id.startswith(UPLOAD_PREFIX):
        stores = routes_stores.stores_of(request)
        await routes_stores.run(lambda: stores.delete_file(file_id), "file_id")
        return {"id": file_id, "object": "file", "deleted": True}
    training = _training(request)

    def remove() -> None:
        training.datasets.remove(training.datasets.get(_dataset_id(file_id)).name)

    try:
        await anyio.to_thread.run_sync(remove)
    except NotFoundError:
        raise ApiError(404, f"no file {file_id!r}", param="file_id", code="not_found") from None
    return {"id": file_id, "object": "file", "deleted": True}


@router.post("/v1/fine_tuning/jobs", responses=ERRORS, tags=["openai"])
async def create_job(body: JobCreate, request: Request) -> dict[str, Any]:
    """Start fine-tuning `model` on an uploaded file; the job runs in the background."""
    training = _training(request)
    hp = body.hyperparameters
    epochs = hp.n_epochs if isinstance(hp.n_epochs, int) else None
    multiplier = hp.learning_rate_multiplier if isinstance(hp.learning_rate_multiplier, float | int) else None
    suffix = "".join(c for c in (body.suffix or "ft") if c.isalnum() or c in "-_.") or "ft"
    name = f"{body.model}-{suffix}-{secrets.token_hex(3)}"

    def start() -> StoredJob:
        dataset = training.datasets.get(_dataset_id(body.training_file))
        job_id = training.background.start(
            TrainRequest(
                body.model,
                dataset.name,
                name,
                epochs=epochs,
                lr=BASE_LR * multiplier if multiplier else None,
                legal_basis=(body.metadata or {}).get("legal_basis"),
            )
        )
        return training.vault.training_jobs.get(job_id)

    try:
        job = await anyio.to_thread.run_sync(start)
    except NotFoundError as exc:
        raise ApiError(404, str(exc), code="not_found") from None
    return _job(job)


@router.get("/v1/fine_tuning/jobs", responses=ERRORS, tags=["openai"])
async def list_jobs(request: Request, query: Annotated[Page, Query()]) -> dict[str, Any]:
    """Training jobs, newest first."""
    training = _training(request)
    jobs = await anyio.to_thread.run_sync(training.jobs)
    data = [_job(j) for j in reversed(jobs)][: query.limit]
    return {"object": "list", "data": data, "has_more": len(jobs) > len(data)}


@router.get("/v1/fine_tuning/jobs/{job_id}", responses=ERRORS, tags=["openai"])
async def get_job(job_id: str, request: Request) -> dict[str, Any]:
    """One training job."""
    training = _training(request)
    return _job(await anyio.to_thread.run_sync(lambda: _find_job(training, job_id)))


@router.post("/v1/fine_tuning/jobs/{job_id}/cancel", responses=ERRORS, tags=["openai"])
async def cancel_job(job_id: str, request: Request) -> dict[str, Any]:
    """Stop a running job at its next step (its checkpoint is kept)."""
    training = _training(request)
    job = await anyio.to_thread.run_sync(lambda: _find_job(training, job_id))
    if not training.background.cancel(job.id) or job.body["status"] not in ("running", "stopped"):
        raise ApiError(400, "the job is not running", param="fine_tuning_job_id")
    deadline = time.monotonic() + 30
    while training.busy and time.monotonic() < deadline:  # it stops at its next step
        await anyio.sleep(0.1)
    return _job(await anyio.to_thread.run_sync(lambda: _find_job(training, job_id)))


@router.get("/v1/fine_tuning/jobs/{job_id}/events", responses=ERRORS, tags=["openai"])
async def job_events(job_id: str, request: Request, query: Annotated[EventPage, Query()]) -> dict[str, Any]:
    """A job's events, newest first (progress lines with their step and loss)."""
    training = _training(request)
    job = await anyio.to_thread.run_sync(lambda: _find_job(training, job_id))
    events = [
        {
            "id": f"ftevent-{e.seq}",
            "object": "fine_tuning.job.event",
            "created_at": e.created_at,
            "level": e.level,
            "message": e.message,
            "type": "metrics" if e.data else "message",
            "data": e.data,
        }
        for e in reversed(training.background.events(job.id))
    ]
    if not events:  # a job this process did not run: its record tells the outcome
        status = _job(job)["status"]
        events = [{"id": f"ftevent-{job.id}", "object": "fine_tuning.job.event", "created_at": _stamp(job.updated_at),
                   "level": "info", "message": f"job {status}", "type": "message", "data": None}]
    limited = events[: query.limit]
    return {"object": "list", "data": limited, "has_more": len(events) > len(limited)}

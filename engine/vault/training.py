"""Fine-tuning data in the vault: datasets and their rows, training jobs, and their binary parts.

Each dataset and each training job has its own data key, so removing one crypto-shreds it. A job's
binary parts (checkpoints, the finished adapter) are sealed byte strings in `training_blobs`: they derive
from personal data and never exist as plaintext files. The bodies are plain JSON values; what they mean
is the training room's business (engine/training), this module only keeps them sealed and whole.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from typing import Any

from engine.errors import NotFoundError
from engine.vault import crypto
from engine.vault.conversations import scrub
from engine.vault.errors import RecordTampered
from engine.vault.sqlite import Database
from engine.vault.store import Store, iso, now

MAX_BLOB_BYTES = 512 * 1024 * 1024  # SQLite's cell limit is 1 GB; an adapter of a large model fits in this


@dataclass(frozen=True)
class StoredDataset:
    """A dataset's sealed header (name, SHA-256, subjects, …) and its plaintext counts."""

    id: str
    created_at: str
    row_count: int
    header: dict[str, Any]


@dataclass(frozen=True)
class StoredJob:
    """A training job's sealed record."""

    id: str
    created_at: str
    updated_at: str
    body: dict[str, Any]


class Datasets:
    """Datasets: a sealed header each, and one sealed row per example, under the dataset's key."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _header(self, db: Database, row: tuple[Any, ...]) -> StoredDataset:
        ds_id, key_id, created_at, count, body = row
        header = self._store.open_json(db, "datasets", "body", ds_id, body, key_id)
        if header.get("row_count") != count:
            raise RecordTampered("datasets", ds_id)
        return StoredDataset(ds_id, created_at, count, header)

    def create(self, header: dict[str, Any], rows: builtins.list[dict[str, Any]]) -> StoredDataset:
        """Store a dataset and all its rows in one transaction: all of it, or nothing."""

        def task(db: Database) -> StoredDataset:
            ds_id = crypto.new_id()
            stamp = iso(now())
            with db.atomic():
                key_id = self._store.new_data_key(db)
                body = {**header, "row_count": len(rows)}
                sealed = self._store.seal_json(db, "datasets", "body", ds_id, key_id, body)
                db.execute(
                    "INSERT INTO datasets (id, key_id, created_at, row_count, body) VALUES (?, ?, ?, ?, ?)",
                    [ds_id, key_id, stamp, len(rows), sealed],
                )
                for seq, row in enumerate(rows):
                    row_id = crypto.new_id()
                    # The plaintext columns are repeated inside, so moving rows between datasets shows.
                    value = {**row, "dataset_id": ds_id, "seq": seq}
                    db.execute(
                        "INSERT INTO dataset_rows (id, dataset_id, seq, body) VALUES (?, ?, ?, ?)",
                        [row_id, ds_id, seq, self._store.seal_json(db, "dataset_rows", "body", row_id, key_id, value)],
                    )
            return self._header(db, self._row(db, ds_id))

        return self._store.run(task)

    def _row(self, db: Database, ds_id: str) -> tuple[Any, ...]:
        row = db.execute(
            "SELECT id, key_id, created_at, row_count, body FROM datasets WHERE id = ?", [ds_id]
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no dataset {ds_id}")
        return tuple(row)

    def list(self) -> builtins.list[StoredDataset]:
        """Every dataset, oldest first."""

        def task(db: Database) -> builtins.list[StoredDataset]:
            rows = db.execute(
                "SELECT id, key_id, created_at, row_count, body FROM datasets ORDER BY created_at, id"
            ).fetchall()
            return [self._header(db, tuple(r)) for r in rows]

        return self._store.run(task)

    def get(self, ds_id: str) -> StoredDataset:
        """One dataset's header; NotFoundError if absent."""
        return self._store.run(lambda db: self._header(db, self._row(db, ds_id)))

    def rows(self, ds_id: str) -> builtins.list[dict[str, Any]]:
        """Every row of a dataset, decrypted into memory, in order."""

        def task(db: Database) -> builtins.list[dict[str, Any]]:
            key_id = self._row(db, ds_id)[1]
            out = []
            for row_id, dataset_id, seq, body in db.execute(
                "SELECT id, dataset_id, seq, body FROM dataset_rows WHERE dataset_id = ? ORDER BY seq", [ds_id]
            ).fetchall():
                value = self._store.open_json(db, "dataset_rows", "body", row_id, body, key_id)
                if (value.pop("dataset_id", None), value.pop("seq", None)) != (dataset_id, seq):
                    raise RecordTampered("dataset_rows", row_id)
                out.append({**value, "id": row_id})
            return out

        return self._store.run(task)

    def remove_rows(
        self,
        ds_id: str,
        row_ids: builtins.list[str],
        header: dict[str, Any],
        *,
        hold_out: builtins.list[str] | tuple[str, ...] = (),
    ) -> None:
        """Delete some rows (a data subject's), move the rows `hold_out` names into the held-out split, and
        reseal the header with the new counts and hash, all in one transaction."""

        def task(db: Database) -> None:
            key_id = self._row(db, ds_id)[1]
            with db.atomic():
                for row_id in row_ids:
                    db.execute("DELETE FROM dataset_rows WHERE id = ? AND dataset_id = ?", [row_id, ds_id])
                for row_id in hold_out:
                    found = db.execute(
                        "SELECT seq, body FROM dataset_rows WHERE id = ? AND dataset_id = ?", [row_id, ds_id]
                    ).fetchone()
                    if found is None:
                        continue
                    value = self._store.open_json(db, "dataset_rows", "body", row_id, found[1], key_id)
                    value["held_out"] = True
                    sealed = self._store.seal_json(db, "dataset_rows", "body", row_id, key_id, value)
                    db.execute("UPDATE dataset_rows SET body = ? WHERE id = ?", [sealed, row_id])
                count = db.execute("SELECT count(*) FROM dataset_rows WHERE dataset_id = ?", [ds_id]).fetchone()[0]
                body = {**header, "row_count": count}
                sealed = self._store.seal_json(db, "datasets", "body", ds_id, key_id, body)
                db.execute("UPDATE datasets SET row_count = ?, body = ? WHERE id = ?", [count, sealed, ds_id])
            scrub(db)

        self._store.run(task)

    def erase(self, ds_id: str) -> None:
        """Crypto-shred a dataset: its rows, its header and its key."""

        def task(db: Database) -> None:
            key_id = self._row(db, ds_id)[1]
            with db.atomic():
                db.execute("DELETE FROM dataset_rows WHERE dataset_id = ?", [ds_id])
                db.execute("DELETE FROM datasets WHERE id = ?", [ds_id])
                db.execute("DELETE FROM data_keys WHERE id = ?", [key_id])
            self._store.forget_data_key(key_id)
            scrub(db)

        self._store.run(task)

    def count(self) -> int:
        """How many datasets there are (no key needed)."""
        return int(self._store.run(lambda db: db.execute("SELECT count(*) FROM datasets").fetchone()[0]))


class TrainingJobs:
    """Training jobs (a sealed record each) and their sealed binary parts."""

    def __init__(self, store: Store) -> None:
        self._store = store

    def _job(self, db: Database, row: tuple[Any, ...]) -> StoredJob:
        job_id, key_id, created_at, updated_at, body = row
        value = self._store.open_json(db, "training_jobs", "body", job_id, body, key_id)
        return StoredJob(job_id, created_at, updated_at, value)

    def _row(self, db: Database, job_id: str) -> tuple[Any, ...]:
        row = db.execute(
            "SELECT id, key_id, created_at, updated_at, body FROM training_jobs WHERE id = ?", [job_id]
        ).fetchone()
        if row is None:
            raise NotFoundError(f"no training job {job_id}")
        return tuple(row)

    def create(self, body: dict[str, Any]) -> StoredJob:
        """A new job under a new data key."""

        def task(db: Database) -> StoredJob:
            job_id = crypto.new_id()
            stamp = iso(now())
            with db.atomic():
                key_id = self._store.new_data_key(db)
                sealed = self._store.seal_json(db, "training_jobs", "body", job_id, key_id, {**body, "id": job_id})
                db.execute(
                    "INSERT INTO training_jobs (id, key_id, created_at, updated_at, body) VALUES (?, ?, ?, ?, ?)",
                    [job_id, key_id, stamp, stamp, sealed],
                )
            return self._job(db, self._row(db, job_id))

        return self._store.run(task)

    def update(self, job_id: str, body: dict[str, Any]) -> StoredJob:
        """Replace a job's record."""

        def task(db: Database) -> StoredJob:
            key_id = self._row(db, job_id)[1]
            sealed = self._store.seal_json(db, "training_jobs", "body", job_id, key_id, {**body, "id": job_id})
            db.execute(
                "UPDATE training_jobs SET updated_at = ?, body = ? WHERE id = ?", [iso(now()), sealed, job_id]
            )
            return self._job(db, self._row(db, job_id))

        return self._store.run(task)

    def get(self, job_id: str) -> StoredJob:
        """One job; NotFoundError if absent."""
        return self._store.run(lambda db: self._job(db, self._row(db, job_id)))

    def list(self) -> builtins.list[StoredJob]:
        """Every job, oldest first."""

        def task(db: Database) -> builtins.list[StoredJob]:
            rows = db.execute(
                "SELECT id, key_id, created_at, updated_at, body FROM training_jobs ORDER BY created_at, id"
            ).fetchall()
            return [self._job(db, tuple(r)) for r in rows]

        return self._store.run(task)

    def put_blob(self, job_id: str, data: bytes, *, replaces: str | None = None) -> str:
        """Seal bytes under the job's key; the blob `replaces` names (an older checkpoint) goes in the same
        transaction, so a crash leaves one or the other. Returns the new blob's id."""
        if len(data) > MAX_BLOB_BYTES:
            raise ValueError("training blob too large")

        def task(db: Database) -> str:
            key_id = self._row(db, job_id)[1]
            blob_id = crypto.new_id()
            ad = crypto.associated_data("training_blobs", "body", blob_id, key_id)
            sealed = crypto.seal(self._store.data_key(db, key_id), key_id, ad, data)
            with db.atomic():
                db.execute(
                    "INSERT INTO training_blobs (id, job_id, created_at, size, body) VALUES (?, ?, ?, ?, ?)",
                    [blob_id, job_id, iso(now()), len(data), sealed],
                )
                if replaces:
                    db.execute("DELETE FROM training_blobs WHERE id = ? AND job_id = ?", [replaces, job_id])
            return blob_id

        return self._store.run(task)

    def get_blob(self, job_id: str, blob_id: str) -> bytes:
        """The bytes of one blob of a job; RecordTampered when it fails to open."""

        def task(db: Database) -> bytes:
            key_id = self._row(db, job_id)[1]
            row = db.execute(
                "SELECT body FROM training_blobs WHERE id = ? AND job_id = ?", [blob_id, job_id]
            ).fetchone()
            if row is None:
                raise NotFoundError(f"training job {job_id} has no part {blob_id}")
            if crypto.envelope_key_id(row[0]) != key_id:
                raise RecordTampered("training_blobs", blob_id)
            ad = crypto.associated_data("training_blobs", "body", blob_id, key_id)
            return crypto.unseal_record(self._store.data_key(db, key_id), row[0], ad, "training_blobs", blob_id)

        return self._store.run(task)

    def delete_blob(self, job_id: str, blob_id: str) -> None:
        """Drop one blob (a checkpoint once the adapter is stored)."""
        self._store.run(
            lambda db: db.execute("DELETE FROM training_blobs WHERE id = ? AND job_id = ?", [blob_id, job_id])
        )

    def erase(self, job_id: str) -> None:
        """Crypto-shred a job: its record, its blobs and its key."""

        def task(db: Database) -> None:
            key_id = self._row(db, job_id)[1]
            with db.atomic():
                db.execute("DELETE FROM training_blobs WHERE job_id = ?", [job_id])
                db.execute("DELETE FROM training_jobs WHERE id = ?", [job_id])
                db.execute("DELETE FROM data_keys WHERE id = ?", [key_id])
            self._store.forget_data_key(key_id)
            scrub(db)

        self._store.run(task)

    def count(self) -> int:
        """How many jobs there are."""
        return int(self._store.run(lambda db: db.execute("SELECT count(*) FROM training_jobs").fetchone()[0]))


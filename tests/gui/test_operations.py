"""The named operations of the Server and Privacy pages (app/operations/server.py, privacy.py, compliance.py),
run without their widgets: each runs off the GUI thread and reports to its success or failure callback."""

from __future__ import annotations

import contextlib
import json
import socket
import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest
from PySide6.QtWidgets import QWidget

from app.operations import compliance, privacy, server
from app.workers import Task
from engine.policy import allowlist, retention
from engine.vault.core import db_path


class Outcome:
    """What a task reported, and on which thread its work ran."""

    def __init__(self) -> None:
        self.result: Any = None
        self.error: BaseException | None = None
        self.done = False


def _run(qtbot, task: Task) -> Outcome:  # type: ignore[no-untyped-def]
    """Start `task` with both callbacks attached; wait until one of them ran."""
    outcome = Outcome()

    def succeeded(result: Any) -> None:
        outcome.result, outcome.done = result, True

    def failed(exc: BaseException) -> None:
        outcome.error, outcome.done = exc, True

    task.on_success(succeeded).on_failure(failed).start()
    qtbot.waitUntil(lambda: outcome.done, timeout=30_000)
    return outcome


@pytest.fixture()
def owner(qtbot):  # type: ignore[no-untyped-def]
    widget = QWidget()
    qtbot.addWidget(widget)
    return widget


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _audited(session, event: str) -> list[Any]:  # type: ignore[no-untyped-def]
    return [e for e in session.vault.audit.entries() if e.event == event]


# -- server ----------------------------------------------------------------------------------------------


def test_server_start_stores_the_settings_serves_and_stops(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    import httpx

    port = _free_port()
    config = {"host": "127.0.0.1", "port": port, "default_max_tokens": 77, "tls": False}
    started = _run(qtbot, server.start(owner, session, config))
    assert started.error is None and session.server is started.result and started.result.running
    assert server.settings(session) == server.ServerSettings("127.0.0.1", port, 77, config)
    assert httpx.get(f"http://127.0.0.1:{port}/v1/models", timeout=10).status_code == 401  # a key is needed
    stopped = _run(qtbot, server.stop(owner, session))  # type: ignore[arg-type]
    assert stopped.error is None and session.server is None
    assert server.stop(owner, session) is None  # nothing runs: nothing to stop


@pytest.mark.filterwarnings("ignore::pytest.PytestUnhandledThreadExceptionWarning")  # uvicorn exits its thread
def test_server_start_on_a_taken_port_fails_to_its_callback(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        config = {"host": "127.0.0.1", "port": taken.getsockname()[1], "default_max_tokens": 64, "tls": False}
        outcome = _run(qtbot, server.start(owner, session, config))
    assert outcome.error is not None and outcome.result is None and session.server is None
    assert str(outcome.error)  # a message to show, not an empty error


def test_server_network_address_needs_a_live_key(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    assert server.bind_problem(session, "127.0.0.1") is None
    assert server.bind_problem(session, "0.0.0.0")  # no key yet: refused, with the reason
    session.engine.keys.create("lan")
    assert server.bind_problem(session, "0.0.0.0") is None


def test_revoking_a_key_succeeds_once_then_fails(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    record, secret = session.engine.keys.create("reports")
    first = _run(qtbot, server.revoke_key(owner, session, "reports"))
    assert first.error is None and first.result.name == "reports" and session.vault.api_keys.verify(secret) is None
    assert _audited(session, "api_key_revoke")[-1].actor == "gui"
    assert server.keys(session, revoked=False) == [] and [r.name for r in server.keys(session, revoked=True)] == [
        "reports"]
    again = _run(qtbot, server.revoke_key(owner, session, "reports"))
    assert again.error is not None and "reports" in str(again.error)


def test_recent_requests_are_read_off_the_gui_thread(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    from engine.vault.records import RequestLogEntry

    session.vault.request_log.append(RequestLogEntry("k", "tiny", 200, 3, 2))
    threads: list[threading.Thread] = []
    log = session.vault.request_log
    recent = log.recent

    def spy(limit: int = 100) -> Any:
        threads.append(threading.current_thread())
        return recent(limit)

    log.recent = spy  # type: ignore[method-assign]
    outcome = _run(qtbot, server.recent_requests(owner, session))
    assert [e.key_name for e in outcome.result] == ["k"]
    assert threads and threads[0] is not threading.main_thread()


def test_example_models_name_the_default_first(session) -> None:  # type: ignore[no-untyped-def]
    assert server.example_models(session)[0] == session.registry.default_name() == "tiny"


# -- privacy -----------------------------------------------------------------------------------------------


def test_export_writes_json_and_a_bad_path_fails(qtbot, owner, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conversation = session.vault.conversations.create("alpha")
    session.vault.conversations.add_message(conversation.id, "user", "hello")
    target = tmp_path / "out.json"
    done = _run(qtbot, privacy.export(owner, session, target, None))
    assert done.error is None and json.loads(target.read_text(encoding="utf-8"))
    assert _audited(session, "export")[-1].actor == "gui"
    blocked = tmp_path / "file"
    blocked.write_text("x")
    failed = _run(qtbot, privacy.export(owner, session, blocked / "inside.json", None))
    assert failed.error is not None and failed.result is None


def test_erase_one_and_everything(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    first, second = (session.vault.conversations.create(t) for t in ("alpha", "beta"))
    assert _run(qtbot, privacy.erase_conversation(owner, session, first.id)).error is None
    assert [c.id for c in session.vault.conversations.list()] == [second.id]
    everything = _run(qtbot, privacy.erase_everything(owner, session))
    assert everything.error is None and everything.result.conversations == 1
    assert session.vault.conversations.list() == []


def test_verify_audit_passes_then_reports_a_broken_chain(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    session.vault.conversations.create("alpha")
    session.engine.keys.create("k")
    ok = _run(qtbot, privacy.verify_audit(owner, session))
    assert ok.error is None and len(ok.result) == len(session.vault.audit.entries()) >= 2
    # Edit a stored entry behind the vault's back: the chain no longer verifies.
    with contextlib.closing(sqlite3.connect(db_path(session.home))) as conn, conn:
        conn.execute("UPDATE audit SET time = '2020-01-01T00:00:00.000000+00:00' WHERE seq = 2")
    broken = _run(qtbot, privacy.verify_audit(owner, session))
    assert broken.error is not None and broken.result is None


def test_retention_preview_then_apply(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    session.vault.conversations.create("alpha")
    preview = _run(qtbot, privacy.preview_retention(owner, session, 30))
    assert preview.error is None and not privacy.erases_anything(preview.result)  # nothing 30 days old
    assert privacy.retention_days(session) is None  # a dry run changes nothing
    applied = _run(qtbot, privacy.apply_retention(owner, session, 30))
    assert applied.error is None and privacy.retention_days(session) == 30
    assert all(getattr(retention.get_policy(session.vault), c) == 30 for c in privacy.RETENTION_CATEGORIES)
    assert privacy.erases_anything({privacy.RETENTION_CATEGORIES[0]: 2})


def test_autolock_setting(session) -> None:  # type: ignore[no-untyped-def]
    assert privacy.autolock_minutes(session) == privacy.DEFAULT_AUTOLOCK_MINUTES
    privacy.set_autolock_minutes(session, 5)
    assert privacy.autolock_minutes(session) == 5
    session.vault.settings.set(privacy.AUTOLOCK_KEY, "junk")  # a bad stored value: the default
    assert privacy.autolock_minutes(session) == privacy.DEFAULT_AUTOLOCK_MINUTES


# -- compliance --------------------------------------------------------------------------------------------


def test_tag_hold_export_and_erase_a_subject(qtbot, owner, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    conversation = session.vault.conversations.create("alpha")
    session.vault.conversations.add_message(conversation.id, "user", "text")
    assert _run(qtbot, compliance.tag(owner, session, conversation.id, " c-42 ")).error is None
    assert compliance.subject_counts(session) == {"c-42": 1}
    empty = _run(qtbot, compliance.tag(owner, session, conversation.id, "   "))
    assert empty.error is not None and "empty" in str(empty.error)

    assert _run(qtbot, compliance.set_legal_hold(owner, session, True, "c-42")).error is None
    assert compliance.policy(session).held_subjects == ("c-42",)
    assert _run(qtbot, compliance.set_legal_hold(owner, session, False, "c-42")).error is None
    assert _run(qtbot, compliance.set_legal_hold(owner, session, True)).error is None
    assert compliance.policy(session).legal_hold
    assert _run(qtbot, compliance.set_legal_hold(owner, session, False)).error is None

    folder = compliance.bundle_folder(tmp_path, "c/42")
    assert folder.name.startswith("enclave-subject-c-42-")
    exported = _run(qtbot, compliance.export_subject(owner, session, folder, "c-42"))
    assert exported.error is None and exported.result["what"]["conversations"] == 1
    again = _run(qtbot, compliance.export_subject(owner, session, folder, "c-42"))  # not a new or empty folder
    assert again.error is not None
    assert compliance.bundle_folder(tmp_path, "c/42") != folder  # the next export gets a folder of its own

    erased = _run(qtbot, compliance.erase_subject(owner, session, "c-42"))
    assert erased.error is None and erased.result.conversations == 1 and session.vault.conversations.list() == []


def test_processing_record_and_allowlist(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    record = _run(qtbot, compliance.processing_record(owner, session))
    assert record.error is None and "Data categories:" in record.result

    assert _run(qtbot, compliance.set_allowlist_required(owner, session, True)).error is None
    assert compliance.allowlist_required(session)
    approved = _run(qtbot, compliance.approve(owner, session, "tiny"))
    assert approved.error is None and approved.result == session.registry.get("tiny").sha256
    assert set(compliance.approvals(session)) == {approved.result}
    unknown = _run(qtbot, compliance.approve(owner, session, "no-such-model"))
    assert unknown.error is not None and unknown.result is None
    assert _run(qtbot, compliance.unapprove(owner, session, approved.result)).error is None
    assert allowlist.approved(session.vault) == {}
    assert _audited(session, "setting_change")[-1].actor == "gui"


def test_callbacks_are_dropped_once_the_owner_is_gone(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    import shiboken6

    from app import workers

    owner = QWidget()
    called: list[object] = []
    task = compliance.set_allowlist_required(owner, session, True)
    task.on_success(called.append).on_failure(called.append)
    shiboken6.delete(owner)
    task.start()
    workers.wait_for_all(10_000)
    qtbot.wait(50)
    assert called == [] and allowlist.is_required(session.vault)  # the work ran; nobody was called back


def test_stream_task_and_task_share_one_base(qtbot, owner) -> None:  # type: ignore[no-untyped-def]
    """A stream's task is a Task: the same callbacks, owner check and pool (the chat operations return one)."""
    from app.workers import StreamTask

    done: list[object] = []
    stream = StreamTask(lambda _on_load: (_ for _ in ()).throw(ValueError("no model")), owner)
    assert isinstance(stream, Task)
    stream.on_failure(done.append).start()
    qtbot.waitUntil(lambda: bool(done), timeout=10_000)
    assert isinstance(done[0], ValueError)


# -- upstreams and organisation servers ------------------------------------------------------------------


def test_upstreams_check_and_remove(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    from app.operations import upstreams

    session.engine.upstreams.add("lab", "http://127.0.0.1:9/v1", models=["x"])
    checked = _run(qtbot, upstreams.check(owner, session))
    assert checked.error is None and [s.upstream.name for s in checked.result] == ["lab"]
    assert not checked.result[0].health.ok  # nothing listens on port 9: reported, not raised
    removed = _run(qtbot, upstreams.remove(owner, session, "lab"))
    assert removed.error is None and session.engine.upstreams.list() == []
    assert _audited(session, "upstream_remove")[-1].actor == "gui"
    again = _run(qtbot, upstreams.remove(owner, session, "lab"))
    assert again.error is not None and "lab" in str(again.error)


def test_remotes_check_with_none_and_remove_an_unknown_one(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    from app.operations import remotes

    assert remotes.remotes(session) == []
    checked = _run(qtbot, remotes.check(owner, session))
    assert checked.error is None and checked.result == {}
    missing = _run(qtbot, remotes.remove(owner, session, "office"))
    assert missing.error is not None and "office" in str(missing.error)



def test_pair_a_device_then_refuse_the_same_name_and_a_bad_code(qtbot, owner, session) -> None:  # type: ignore[no-untyped-def]
    from app.operations import remotes
    from engine.pairing.code import decode

    fingerprint = ":".join(["AB"] * 32)  # as tls.fingerprint writes it
    made = _run(qtbot, server.pair_device(owner, session, "alice-laptop", url="https://10.0.0.5:8765",
                                          fingerprint=fingerprint, models=None, log_content=False))
    assert made.error is None
    code = decode(made.result)
    assert code.device == "alice-laptop" and code.fingerprint == fingerprint and code.one_time
    assert _audited(session, "pair_create")
    again = _run(qtbot, server.pair_device(owner, session, "alice-laptop", url="https://10.0.0.5:8765",
                                           fingerprint=fingerprint, models=None, log_content=False))
    assert again.error is not None and "alice-laptop" in str(again.error)
    bad = _run(qtbot, remotes.connect(owner, session, "office", "not a code"))
    assert bad.error is not None and "pairing code" in str(bad.error)
    assert remotes.remotes(session) == []

# -- models --------------------------------------------------------------------------------------------------


def test_import_verify_and_default_a_model(  # type: ignore[no-untyped-def]
    qtbot, owner, session, tiny_gguf_no_template, tmp_path: Path
) -> None:
    from app.operations import models
    from tests.tiny_gguf import write_tiny_gguf

    progress: list[tuple[int, int]] = []
    task = models.import_file(owner, session, tiny_gguf_no_template, "copy")
    task.on_progress(lambda done, total: progress.append((done, total)))
    imported = _run(qtbot, task)
    assert imported.error is None and imported.result.name == "copy" and progress
    assert _audited(session, "model_import")[-1].details["sha256"] == imported.result.sha256
    assert _run(qtbot, models.verify(owner, session, "copy")).error is None
    assert _run(qtbot, models.set_default(owner, session, "copy")).error is None
    assert session.registry.default_name() == "copy"
    imported.result.path.write_bytes(imported.result.path.read_bytes()[:-1] + b"\0")  # the file changed on disk
    changed = _run(qtbot, models.verify(owner, session, "copy"))
    assert changed.error is not None and getattr(changed.error, "exit_code", None) == 2

    allowlist.set_required(session.vault, True, actor="test")  # only approved files may be imported now
    other = write_tiny_gguf(tmp_path / "other.gguf", seed=5)
    refused = _run(qtbot, models.import_file(owner, session, other, "unapproved"))
    assert refused.error is not None and "unapproved" not in [r.name for r in session.registry.list()]
    assert "approved" in str(refused.error)
    bad = tmp_path / "not-a-model.gguf"
    bad.write_bytes(b"nope")
    assert _run(qtbot, models.import_file(owner, session, bad)).error is not None


def test_tls_choices_resolve_to_files_or_a_clear_refusal(tmp_path: Path) -> None:
    assert server.tls_files({"tls": None}, "127.0.0.1") is None and server.tls_fingerprint({"tls": None}) is None
    with pytest.raises(Exception, match="both the certificate file and its key file"):
        server.tls_files({"tls": server.FILES, "tls_cert": str(tmp_path / "c.pem"), "tls_key": ""}, "127.0.0.1")
    # A certificate file that is not there (yet): no fingerprint to show, no traceback.
    assert server.tls_fingerprint({"tls": server.FILES, "tls_cert": str(tmp_path / "missing.pem")}) is None


def test_backup_then_restore_with_a_wrong_and_the_right_passphrase(qtbot, owner, session, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from engine.vault.errors import WrongPassphrase
    from tests.gui.conftest import PASSPHRASE

    kept = session.vault.conversations.create("kept")
    progress: list[tuple[int, int]] = []
    task = privacy.backup(owner, session, tmp_path).on_progress(lambda d, t: progress.append((d, t)))
    written = _run(qtbot, task)
    assert written.error is None and written.result.parent == tmp_path and written.result.name.startswith(
        "enclave-backup-") and progress
    assert privacy.on_the_vaults_drive(session, written.result)  # the test's folders share one disk
    session.vault.conversations.create("after the backup")
    assert not privacy.restore_blocked(session)

    wrong = _run(qtbot, privacy.restore(owner, session, written.result, "not the passphrase"))
    assert isinstance(wrong.error, WrongPassphrase) and len(session.vault.conversations.list()) == 2
    before = session.vault
    restored = _run(qtbot, privacy.restore(owner, session, written.result, PASSPHRASE))
    assert restored.error is None and session.vault is restored.result is not before
    assert [c.id for c in session.vault.conversations.list()] == [kept.id]
    session.vault.close()  # the fixture closes the vault it opened, not this one

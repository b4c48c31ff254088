"""The Models view: import (dialog path, drag-and-drop, cancel), verify, default, settings, remove."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from app.dialogs.model_settings import ModelSettingsDialog
from app.models.model_table import Col, HashState
from app.widgets import human_number, human_size
from engine.models import ImportCancelled, ModelRegistry


class SlowRegistry(ModelRegistry):
    """A registry whose imports report progress slowly, like a large file on a slow disk."""

    def import_file(self, source, name=None, *, progress=None, cancel=None, **kwargs):  # type: ignore[no-untyped-def]
        def slow(done: int, total: int) -> None:
            if progress:
                progress(done, total)
            time.sleep(0.25)

        return super().import_file(source, name, progress=slow, cancel=cancel, **kwargs)


def _names(view) -> list[str]:  # type: ignore[no-untyped-def]
    return [view.model.record(r).name for r in range(view.model.rowCount())]


def test_import_and_manage_a_model(qtbot, window, session, tiny_gguf_no_template: Path) -> None:  # type: ignore[no-untyped-def]
    view = window.models
    window.show_view("models")
    assert _names(view) == ["tiny"]
    with qtbot.waitSignal(view.models_changed, timeout=20_000), qtbot.waitSignal(view.import_finished) as done:
        view.import_file(tiny_gguf_no_template, "base")
    assert done.args[0].name == "base"
    assert _names(view) == ["base", "tiny"] and not view.progress_box.isVisibleTo(view)
    assert window.chat.model_picker.findData("base") >= 0  # the chat view heard about it
    assert "base model" in view.model.data(view.model.index(0, Col.NAME), Qt.ItemDataRole.ToolTipRole)  # the note

    view.select("base")
    with qtbot.waitSignal(view.models_changed, timeout=10_000):  # set off the GUI thread
        view.set_default()
    assert session.registry.default_name() == "base"
    assert view.model.data(view.model.index(0, Col.NAME)) == "base (default)"

    with qtbot.waitSignal(view.models_changed, timeout=10_000):
        view.remove_selected(confirm=False)
    assert _names(view) == ["tiny"] and not (session.registry.folder / "base.gguf").exists()
    events = [(e.event, e.actor) for e in session.vault.audit.entries()]
    assert ("model_default", "gui") in events and ("model_remove", "gui") in events  # the engine audits them


def test_drop_a_file_to_import_it(qtbot, window, tiny_gguf_no_template: Path) -> None:  # type: ignore[no-untyped-def]
    view = window.models
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(tiny_gguf_no_template))])
    event = QDropEvent(QPointF(20, 20), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    with qtbot.waitSignal(view.import_finished, timeout=20_000) as done:
        view.dropEvent(event)
    assert done.args[0].name == "tiny-base"


def test_cancel_an_import_keeps_nothing(qtbot, window, session, big_gguf: Path) -> None:  # type: ignore[no-untyped-def]
    session.registry = session.engine.registry = SlowRegistry(session.registry.folder)  # the import runs in the engine
    view = window.models
    task = view.import_file(big_gguf)
    assert task is not None and view.progress_box.isVisibleTo(view)
    qtbot.waitUntil(lambda: view.progress.value() > 0, timeout=10_000)
    with qtbot.waitSignal(view.import_finished, timeout=20_000) as done:
        qtbot.mouseClick(view.cancel_button, Qt.MouseButton.LeftButton)
    assert isinstance(done.args[0], ImportCancelled)
    assert [r.name for r in session.registry.list()] == ["tiny"]
    assert sorted(p.name for p in session.registry.folder.glob("*.gguf*")) == ["tiny.gguf"]
    assert "cancelled" in view.status.text()


def test_verify_notices_a_changed_file(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    view = window.models
    view.select("tiny")
    task = view.verify_selected()
    with qtbot.waitSignal(task.finished, timeout=10_000):
        pass
    assert view.model._hash["tiny"] == HashState.VERIFIED
    path = session.registry.get("tiny").path
    data = bytearray(path.read_bytes())
    data[-1] ^= 0xFF
    path.write_bytes(bytes(data))
    task = view.verify_selected()
    with qtbot.waitSignal(task.finished, timeout=10_000):
        pass
    assert view.model._hash["tiny"] == HashState.FAILED
    assert "CHANGED" in view.model.data(view.model.index(0, Col.SHA256))


def test_model_settings_dialog(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    dialog = ModelSettingsDialog(session.registry, session.registry.get("tiny"))
    qtbot.addWidget(dialog)
    dialog.context.setValue(1024)
    dialog.gpu_mode.setCurrentIndex(dialog.gpu_mode.findData("number"))
    dialog.gpu_layers.setValue(3)
    dialog.template.setCurrentIndex(dialog.template.findData("chatml"))
    dialog.parallel.setValue(2)
    dialog.save()
    settings = session.registry.get("tiny").settings
    assert (settings.context_size, settings.gpu_layers, settings.chat_template) == (1024, 3, "chatml")
    assert settings.parallel == 2
    dialog = ModelSettingsDialog(session.registry, session.registry.get("tiny"))
    qtbot.addWidget(dialog)
    dialog.context.setValue(10)  # below the engine's minimum: explained, not saved
    dialog.save()
    assert dialog.message.text() and session.registry.get("tiny").settings.context_size == 1024


def test_model_settings_show_what_parallel_requests_and_context_cost(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    record = session.registry.get("tiny")
    dialog = ModelSettingsDialog(session.registry, record)
    qtbot.addWidget(dialog)
    per_token = record.facts.kv_bytes_per_token

    def shows(tokens: int) -> bool:
        text = dialog.memory.text()
        return f"{human_number(tokens)} tokens" in text and human_size(tokens * per_token) in text

    assert shows(4 * 512)  # 4 parallel requests × the 512 tokens the model was trained for
    dialog.parallel.setValue(8)
    assert shows(8 * 512)
    dialog.context.setValue(1024)
    assert shows(8 * 1024)


def test_details_say_how_the_model_loads(qtbot, window, session) -> None:  # type: ignore[no-untyped-def]
    view = window.models
    view.refresh()
    view.select("tiny")
    assert "4 parallel requests of 512 tokens each" in view.details.text()
    session.registry.update_settings("tiny", parallel=2, context_size=256)
    view.refresh()
    view.select("tiny")
    assert "2 parallel requests of 256 tokens each" in view.details.text()


def test_hardware_panel(qtbot, window) -> None:  # type: ignore[no-untyped-def]
    panel = window.models.hardware
    qtbot.waitUntil(lambda: panel.info is not None, timeout=10_000)
    assert panel.info.cores >= 1 and panel.info.memory_total > 0
    assert "fits" in panel.fit.text()


def test_hardware_panel_measures_the_selected_settings_against_free_memory(qtbot, session) -> None:  # type: ignore[no-untyped-def]
    from app.hardware import Hardware
    from app.views.models import HardwarePanel
    from engine.runtime.manager import estimated_memory

    panel = HardwarePanel()
    qtbot.addWidget(panel)
    record = session.registry.get("tiny")
    needed = estimated_memory(record)
    panel.show_info(Hardware("CPU", 2, 4 * needed, needed, (), False))  # free memory: exactly what it needs
    panel.show_fit(record)
    assert "fits" in panel.fit.text()
    wider = session.registry.update_settings("tiny", parallel=record.settings.parallel + 1)  # a bigger KV cache
    panel.show_fit(wider)
    assert "may not fit" in panel.fit.text()
    panel.show_fit(wider, loaded_as=wider)  # what it takes is already out of the free memory
    assert "is loaded" in panel.fit.text()
    # Loaded with the old settings: reloading with the new ones frees the old copy first.
    panel.show_fit(wider, loaded_as=record)
    assert "fits" in panel.fit.text()
    panel.show_info(Hardware("CPU", 2, 4 * needed, 0, (), False))
    panel.show_fit(wider, loaded_as=record)
    assert "may not fit" in panel.fit.text()  # not "is loaded": it will load again, bigger


def test_the_selected_model_is_loaded_only_as_it_was_loaded(qtbot, window, session, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    from app import hardware

    view = window.models
    qtbot.waitUntil(lambda: view.hardware.info is not None, timeout=10_000)
    session.runtime.load("tiny")
    monkeypatch.setattr(hardware, "available_memory", lambda: 123_456_789_000)  # measured after the load
    view.refresh()
    view.select("tiny")
    qtbot.waitUntil(lambda: "is loaded" in view.hardware.fit.text(), timeout=10_000)
    assert view.hardware.info.memory_available == 123_456_789_000  # free memory is read again
    session.registry.update_settings("tiny", parallel=2)
    view.refresh()
    view.select("tiny")
    qtbot.waitUntil(lambda: "fits" in view.hardware.fit.text(), timeout=10_000)  # reloads with new settings

def test_imports_are_audited_and_the_allowlist_is_enforced(qtbot, window, session, tiny_gguf_no_template) -> None:  # type: ignore[no-untyped-def]
    from engine.policy import allowlist
    from engine.policy.allowlist import ModelNotApproved

    view = window.models
    allowlist.set_required(session.vault, True, actor="gui")
    with qtbot.waitSignal(view.import_finished, timeout=20_000) as refused:
        view.import_file(tiny_gguf_no_template, "base")
    assert isinstance(refused.args[0], ModelNotApproved) and "not approved" in view.status.text()
    assert [r.name for r in session.registry.list()] == ["tiny"]
    allowlist.set_required(session.vault, False, actor="gui")
    with qtbot.waitSignal(view.import_finished, timeout=20_000):
        view.import_file(tiny_gguf_no_template, "base")
    events = [(e.event, e.actor, e.details.get("name")) for e in session.vault.audit.entries()]
    assert ("policy_violation", "gui", "base") in events and ("model_import", "gui", "base") in events

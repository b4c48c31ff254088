"""Enclave's desktop app (PySide6): windows, widgets, Qt item models and workers over the engine."""

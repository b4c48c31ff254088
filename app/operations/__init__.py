"""Named operations of the desktop app, one module per area (in the style of anki's `aqt/operations`).

Each operation is a function taking the widget that asks (its owner: callbacks are dropped once it is
gone) and the session, and returning an unstarted `app.workers.Task` that runs one engine call off the
GUI thread. The widget attaches what to show and starts it:

    models.load(self, self.session, name).on_success(self._loaded).on_failure(self._failed).start()

The decisions (which engine call, in which order, what is audited) live here and in the engine; the
widgets only say what to display. Instant reads a page needs to draw itself (a stored setting, a rule's
answer) are plain functions beside the operations, so the widget asks rather than decides.
"""

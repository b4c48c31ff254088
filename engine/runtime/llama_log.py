"""llama.cpp's own log, routed into Python logging: quiet unless asked for.

llama.cpp writes loader and context details (and warnings such as a context larger than the model was
trained for) to stderr through one process-wide callback. Routed to the `llama.cpp` logger instead, they
show only at the level its owner chooses: errors by default, everything with `enclave serve --verbose`.
"""

from __future__ import annotations

import ctypes
import logging

from llama_cpp import llama_cpp as C

LOGGER = logging.getLogger("llama.cpp")
# ggml_log_level (ggml.h): 0 none, 1 debug, 2 info, 3 warn, 4 error, 5 continues the previous message.
# (llama-cpp-python's own mapping predates that order and shows warnings as errors.)
_LEVELS = {0: logging.CRITICAL, 1: logging.DEBUG, 2: logging.INFO, 3: logging.WARNING, 4: logging.ERROR}


class _Line:
    """The message being assembled from llama.cpp's pieces, and its level."""

    level = logging.INFO
    text = ""


@C.llama_log_callback  # type: ignore[untyped-decorator]
def _route(level: int, text: bytes, _user_data: ctypes.c_void_p) -> None:
    # Messages arrive in pieces (level 5 continues one); a line is logged once it is complete.
    if level != 5:
        _Line.level = _LEVELS.get(level, logging.DEBUG)
    _Line.text += text.decode("utf-8", "replace")
    if _Line.text.endswith("\n"):
        line, _Line.text = _Line.text.rstrip(), ""
        if line and LOGGER.isEnabledFor(_Line.level):
            LOGGER.log(_Line.level, "%s", line)


def install(*, verbose: bool = False) -> None:
    """Send llama.cpp's messages to the `llama.cpp` logger: errors only, or all of them when `verbose`."""
    LOGGER.setLevel(logging.DEBUG if verbose else logging.ERROR)
    C.llama_log_set(_route, ctypes.c_void_p(0))

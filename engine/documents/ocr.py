"""Text out of images with RapidOCR (PP-OCRv4, Chinese and English), whose ONNX models ship inside the
`rapidocr-onnxruntime` wheel: nothing is downloaded. The engine is made once and shared; images are
decoded from memory, never written to a file.
"""

from __future__ import annotations

import io
import logging
import threading
from typing import Any

from engine.errors import UserError

MAX_PIXELS = 40_000_000  # a decompression bomb in an image file is refused
_engine: Any = None
_lock = threading.Lock()


def _get_engine() -> Any:
    global _engine
    with _lock:
        if _engine is None:
            try:
                from rapidocr_onnxruntime import RapidOCR
            except ImportError:
                raise UserError("OCR needs the PyPI package 'rapidocr-onnxruntime'") from None
            # RapidOCR logs every call at INFO; its lines would drown the import report.
            logging.getLogger("RapidOCR").setLevel(logging.WARNING)
            _engine = RapidOCR()
        return _engine


def image_text(data: bytes) -> str:
    """The text in an image, line by line in reading order ("" when none is found)."""
    import numpy as np
    from PIL import Image

    Image.MAX_IMAGE_PIXELS = MAX_PIXELS
    with Image.open(io.BytesIO(data)) as image:
        rgb = np.asarray(image.convert("RGB"))
    # RapidOCR takes BGR like OpenCV.
    result, _ = _get_engine()(rgb[:, :, ::-1].copy())
    if not result:
        return ""
    boxes = sorted(result, key=lambda item: (_top(item[0]), _left(item[0])))
    lines: list[list[Any]] = []
    for item in boxes:
        # Boxes whose tops are within half a line height belong to the same line.
        if lines and abs(_top(item[0]) - _top(lines[-1][0][0])) < _height(item[0]) / 2:
            lines[-1].append(item)
        else:
            lines.append([item])
    return "\n".join(" ".join(str(i[1]) for i in sorted(line, key=lambda i: _left(i[0]))) for line in lines)


def _top(box: Any) -> float:
    return float(min(point[1] for point in box))


def _left(box: Any) -> float:
    return float(min(point[0] for point in box))


def _height(box: Any) -> float:
    return float(max(point[1] for point in box)) - _top(box)

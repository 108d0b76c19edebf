"""The pictures of a worksheet, read from its drawing parts without loading any cell.

openpyxl's drawing reader is used on its own: loading the workbook would parse every cell first,
which costs more than the whole calamine read on big sheets.
"""

from __future__ import annotations

import base64
import warnings
import zipfile
from io import BytesIO
from typing import Any

from handlers.common.errors import UnsafeFile
from handlers.common.ooxml import relationships
from handlers.xlsx.cells import Cell

_DRAWING_REL = "/drawing"


def sheet_images(archive: zipfile.ZipFile, sheet_part: str, notes: list[str]) -> list[dict[str, Any]]:
    """Every picture anchored on the sheet: anchor cell, format, pixel size and base64 data."""
    from openpyxl.reader.drawings import find_images  # noqa: PLC0415 - only sheets with images pay for it
    from PIL import Image as PILImage  # noqa: PLC0415

    images: list[dict[str, Any]] = []
    drawings = [target for kind, target in relationships(archive, sheet_part).values() if kind.endswith(_DRAWING_REL)]
    for drawing in drawings:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                _charts, found = find_images(archive, drawing)
            except PILImage.DecompressionBombError as error:
                raise UnsafeFile(f"a picture on the sheet is too large to read safely ({error})") from None
        notes.extend(str(warning.message) for warning in caught)
        images.extend(_describe(image) for image in found)
    return images


def _describe(image: Any) -> dict[str, Any]:
    marker = getattr(image.anchor, "_from", None)
    anchor = Cell(marker.row, marker.col).a1 if marker is not None else None
    data = image.ref.getvalue() if isinstance(image.ref, BytesIO) else image._data()
    return {
        "anchor": anchor,
        "format": str(image.format).lower(),
        "width": int(image.width),
        "height": int(image.height),
        "data_base64": base64.b64encode(data).decode("ascii"),
    }

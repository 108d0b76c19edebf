"""The pictures of a worksheet: those placed over cells (drawings), the previews of embedded objects
(legacy VML drawings), and those placed in cells (rich values).

Read straight from the package's XML parts, without loading any cell: any picture format is returned
(PNG, JPEG, GIF, EMF, WMF...), its bytes exactly as stored, and a picture part that several anchors
show is read and base64-encoded once.
"""

from __future__ import annotations

import zipfile
from typing import Any

from handlers.xlsx.images.drawing import drawing_pictures
from handlers.xlsx.images.in_cell import in_cell_pictures
from handlers.xlsx.images.media import MediaCache
from handlers.xlsx.images.ole_objects import ole_object_pictures


def sheet_images(archive: zipfile.ZipFile, sheet_part: str, cache: MediaCache) -> list[dict[str, Any]]:
    """Every picture on the sheet: anchor cell, format, size, base64 data, and whether it is in a cell."""
    found = [
        *drawing_pictures(archive, sheet_part),
        *ole_object_pictures(archive, sheet_part),
        *in_cell_pictures(archive, sheet_part),
    ]
    images = []
    for picture in found:
        media = cache.get(picture.part)
        if media is None:
            continue  # a relationship to a part that is missing from the package
        size = media.pixel_size or picture.extent
        images.append(
            {
                "anchor": picture.anchor,
                "format": media.format,
                "width": size[0] if size else None,
                "height": size[1] if size else None,
                "data_base64": media.base64,
                "in_cell": picture.in_cell,
            }
        )
    return images


__all__ = ["MediaCache", "sheet_images"]

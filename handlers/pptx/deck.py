"""Open a deck of any PowerPoint flavour for merging, and save what the merge made of it.

python-pptx opens only presentations (.pptx, .pptm). A template (.potx, .potm) or a show (.ppsx,
.ppsm) differs from them only in the content type of its main part, so that type is set before the
deck is read: a template gives a presentation, a macro-enabled file stays macro-enabled (its VBA
project is a part python-pptx carries over untouched), a show stays a show.
"""

from __future__ import annotations

import io
import zipfile
from dataclasses import dataclass
from typing import Any

from lxml import etree  # type: ignore[import-untyped]
from pptx.exc import PythonPptxError
from pptx.opc.constants import CONTENT_TYPE as CT
from pptx.opc.package import PartFactory
from pptx.package import Package
from pptx.parts.presentation import PresentationPart

from handlers.common.errors import InvalidFile


@dataclass(frozen=True, slots=True)
class Flavour:
    """What a merged deck is: the main part's content type, the file extension and the file's MIME type."""

    main_type: str
    extension: str
    mime_type: str


PPTX = Flavour(
    CT.PML_PRESENTATION_MAIN, "pptx", "application/vnd.openxmlformats-officedocument.presentationml.presentation"
)
PPTM = Flavour(CT.PML_PRES_MACRO_MAIN, "pptm", "application/vnd.ms-powerpoint.presentation.macroEnabled.12")
PPSX = Flavour(CT.PML_SLIDESHOW_MAIN, "ppsx", "application/vnd.openxmlformats-officedocument.presentationml.slideshow")
PPSM = Flavour(
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.main+xml",
    "ppsm",
    "application/vnd.ms-powerpoint.slideshow.macroEnabled.12",
)
_POTM_MAIN = "application/vnd.ms-powerpoint.template.macroEnabled.main+xml"
# The main part's content type in the template -> what the merged deck is.
_OUTPUT = {
    CT.PML_PRESENTATION_MAIN: PPTX,
    CT.PML_TEMPLATE_MAIN: PPTX,
    CT.PML_PRES_MACRO_MAIN: PPTM,
    _POTM_MAIN: PPTM,
    CT.PML_SLIDESHOW_MAIN: PPSX,
    PPSM.main_type: PPSM,
}
# What python-pptx raises on a package whose parts or relationships are not what it expects.
PPTX_READ_ERRORS: tuple[type[Exception], ...] = (
    KeyError,
    ValueError,
    TypeError,
    AttributeError,
    IndexError,
    RuntimeError,  # NotImplementedError (unsupported zip compression), RecursionError (nested groups)
    zipfile.BadZipFile,
    etree.LxmlError,
    PythonPptxError,
)


def open_deck(data: bytes, name: str) -> tuple[Any, Flavour]:
    """The presentation in `data` and what it will be saved as; InvalidFile with a short reason if unreadable."""
    # python-pptx reads .potx and .ppsx main parts as presentations, not their macro-enabled twins;
    # its part registry is the documented way to add them (idempotent, so done per call).
    for main_type in (_POTM_MAIN, PPSM.main_type):
        PartFactory.part_type_for.setdefault(main_type, PresentationPart)
    try:
        package = Package.open(io.BytesIO(data))
        part = package.main_document_part
    except KeyError:
        raise InvalidFile(f"{name} cannot be read as a PowerPoint file: a part it refers to is missing") from None
    except etree.XMLSyntaxError:
        raise InvalidFile(f"{name} cannot be read as a PowerPoint file: one of its parts is not valid XML") from None
    except PPTX_READ_ERRORS:
        raise InvalidFile(f"{name} cannot be read as a PowerPoint file: its package structure is damaged") from None
    flavour = _OUTPUT.get(part.content_type)
    if flavour is None:
        raise InvalidFile(f"{name} is not a PowerPoint presentation, template or show")
    # python-pptx writes [Content_Types].xml from this on save (and caches the property once read).
    part._content_type = flavour.main_type
    vars(part).pop("content_type", None)
    try:
        presentation = part.presentation
        len(presentation.slides)  # python-pptx resolves every listed slide here
    except PPTX_READ_ERRORS:
        raise InvalidFile(
            f"{name} cannot be read as a PowerPoint file: its presentation part, or a slide it lists, "
            "is missing or damaged"
        ) from None
    return presentation, flavour


def save_deck(deck: Any, name: str) -> bytes:
    """The merged deck as bytes; InvalidFile if a damaged part of the template cannot be written back."""
    output = io.BytesIO()
    try:
        deck.save(output)
    except PPTX_READ_ERRORS:
        raise InvalidFile(f"{name}: the merged deck cannot be written, a part of the template is damaged") from None
    return output.getvalue()

"""Merge and the kinds of template file: templates and shows, macro-enabled decks, damaged packages."""

from __future__ import annotations

import base64
import io
import re
import struct
import zipfile

import pytest
from pptx import Presentation
from pptx.util import Inches

from handlers.common.errors import HandlerError
from handlers.merge import merge
from tests.handlers.builders import b64, rezip, template_deck
from tests.handlers.test_merge import DATA

OOXML_PML = "application/vnd.openxmlformats-officedocument.presentationml"


MS_PML = "application/vnd.ms-powerpoint"


@pytest.mark.parametrize(
    ("main_type", "merged_type", "extension", "mime_type"),
    [
        (f"{OOXML_PML}.template.main+xml", f"{OOXML_PML}.presentation.main+xml", "pptx", f"{OOXML_PML}.presentation"),
        (f"{OOXML_PML}.slideshow.main+xml", f"{OOXML_PML}.slideshow.main+xml", "ppsx", f"{OOXML_PML}.slideshow"),
        (
            f"{MS_PML}.template.macroEnabled.main+xml",
            f"{MS_PML}.presentation.macroEnabled.main+xml",
            "pptm",
            f"{MS_PML}.presentation.macroEnabled.12",
        ),
        (
            f"{MS_PML}.slideshow.macroEnabled.main+xml",
            f"{MS_PML}.slideshow.macroEnabled.main+xml",
            "ppsm",
            f"{MS_PML}.slideshow.macroEnabled.12",
        ),
    ],
    ids=["potx gives pptx", "ppsx stays ppsx", "potm gives pptm", "ppsm stays ppsm"],
)
def test_a_template_or_show_merges_into_the_right_kind_of_file(
    main_type: str, merged_type: str, extension: str, mime_type: str
) -> None:
    presentation = f"{OOXML_PML}.presentation.main+xml"
    source = rezip_content_type(template_deck(), presentation, main_type)
    data = merge({"template_base64": b64(source), "file_name": "brand.potx", "data": DATA})["data"]
    assert data["file"]["name"] == f"brand-merged.{extension}"
    assert data["file"]["content_type"] == mime_type
    merged = base64.b64decode(data["file"]["base64"])
    types = zipfile.ZipFile(io.BytesIO(merged)).read("[Content_Types].xml").decode()
    assert f'PartName="/ppt/presentation.xml" ContentType="{merged_type}"' in types
    opened = rezip_content_type(merged, merged_type, presentation) if merged_type != presentation else merged
    assert Presentation(io.BytesIO(opened)).slides[0].shapes.title.text == "Report for ACME"


def rezip_content_type(deck: bytes, old: str, new: str) -> bytes:
    types = zipfile.ZipFile(io.BytesIO(deck)).read("[Content_Types].xml").decode()
    assert old in types
    return rezip(deck, {"[Content_Types].xml": types.replace(old, new).encode()})


def test_a_damaged_template_gets_a_short_message_without_parser_text() -> None:
    broken = rezip(template_deck(), {"ppt/presentation.xml": b"<p:presentation"})
    with pytest.raises(HandlerError) as failure:
        merge({"template_base64": b64(broken), "file_name": "deck.pptx", "data": DATA})
    assert str(failure.value) == "deck.pptx cannot be read as a PowerPoint file: one of its parts is not valid XML"


def test_a_shape_python_pptx_cannot_read_fails_naming_the_slide_not_the_exception() -> None:
    # A table row without its required height: python-pptx raises InvalidXmlError deep inside.
    deck = template_deck()
    slide = zipfile.ZipFile(io.BytesIO(deck)).read("ppt/slides/slide2.xml")
    broken = rezip(deck, {"ppt/slides/slide2.xml": re.sub(rb'(<a:tr) h="\d+"', rb"\1", slide)})
    with pytest.raises(HandlerError) as failure:
        merge({"template_base64": b64(broken), "file_name": "deck.pptx", "data": DATA})
    assert str(failure.value) == ("slide 2 of deck.pptx cannot be filled: a shape or a part it refers to is damaged")


def test_a_shape_without_geometry_still_gets_its_placeholders() -> None:
    # Some producers write a text shape with neither a preset nor a custom geometry, which
    # python-pptx cannot classify (shape_type raises); its text is still text.
    deck = Presentation(io.BytesIO(template_deck()))
    box = deck.slides[0].shapes.add_textbox(Inches(1), Inches(6), Inches(3), Inches(1))
    box.text_frame.text = "Plain {{client}}"
    sp = box._element
    sp.nvSpPr.cNvSpPr.attrib.pop("txBox")
    geometry = sp.spPr.find("{http://schemas.openxmlformats.org/drawingml/2006/main}prstGeom")
    sp.spPr.remove(geometry)
    out = io.BytesIO()
    deck.save(out)
    data = merge({"template_base64": b64(out.getvalue()), "data": DATA})["data"]
    merged = Presentation(io.BytesIO(base64.b64decode(data["file"]["base64"])))
    assert "Plain ACME" in [shape.text_frame.text for shape in merged.slides[0].shapes if shape.has_text_frame]


def test_a_template_with_encrypted_zip_entries_gets_a_short_message_without_a_repr() -> None:
    deck = bytearray(template_deck())
    for signature, flags_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):  # every entry flagged encrypted
        position = 0
        while (position := deck.find(signature, position)) >= 0:
            flags = struct.unpack_from("<H", deck, position + flags_at)[0]
            struct.pack_into("<H", deck, position + flags_at, flags | 1)
            position += 4
    with pytest.raises(HandlerError) as failure:
        merge({"template_base64": b64(bytes(deck)), "file_name": "deck.pptx", "data": DATA})
    assert str(failure.value) == "deck.pptx has encrypted zip entries, which need a password to read"


def test_a_template_missing_a_slide_part_gets_a_short_message_without_parser_text() -> None:
    source = zipfile.ZipFile(io.BytesIO(template_deck()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            if info.filename != "ppt/slides/slide2.xml":
                target.writestr(info, source.read(info))
    with pytest.raises(HandlerError) as failure:
        merge({"template_base64": b64(out.getvalue()), "file_name": "deck.pptx", "data": DATA})
    assert str(failure.value) == (
        "deck.pptx cannot be read as a PowerPoint file: its presentation part, or a slide it lists, "
        "is missing or damaged"
    )

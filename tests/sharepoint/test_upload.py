"""Uploads to a folder and overwrites, small (one PUT) and large (upload session in chunks)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from handlers.sharepoint import (
    Conflict,
    InvalidRequest,
    SharePointSettings,
    TransientFailure,
    overwrite,
    upload_to_folder,
)

from .fake_graph import FakeGraph

PPTX = "application/vnd.openxmlformats-officedocument.presentationml.presentation"
KIB = 1024


@pytest.fixture
def session_settings(sharepoint_settings: SharePointSettings) -> SharePointSettings:
    """Files above 100 KiB go through an upload session, in 320 KiB chunks."""
    return replace(sharepoint_settings, upload_session_threshold_bytes=100 * KIB, upload_chunk_bytes=320 * KIB)


def test_small_file_is_uploaded_into_the_folder(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")

    result = upload_to_folder(folder.sharing_url, "Q3 deck.pptx", b"deck", PPTX, settings=sharepoint_settings)

    stored = fake_graph.drive.child(folder.id, "Q3 deck.pptx")
    assert stored is not None
    assert (stored.data, stored.mime_type) == (b"deck", PPTX)
    assert result == {
        "url": stored.web_url,
        "id": stored.id,
        "name": "Q3 deck.pptx",
        "size": 4,
        "drive_id": "b!fakeDriveId-0123456789abcdef",
    }


def test_existing_file_is_replaced_by_default(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")
    old = fake_graph.drive.add_file("deck.pptx", b"old", folder)

    result = upload_to_folder(folder.sharing_url, "deck.pptx", b"new", PPTX, settings=sharepoint_settings)

    assert (result["id"], old.data) == (old.id, b"new")


def test_conflict_fail_refuses_to_replace(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")
    fake_graph.drive.add_file("deck.pptx", b"old", folder)

    with pytest.raises(Conflict, match=r"already exists and was not replaced \(409\).*deck\.pptx"):
        upload_to_folder(folder.sharing_url, "deck.pptx", b"new", PPTX, conflict="fail", settings=sharepoint_settings)


def test_conflict_rename_keeps_both(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")
    fake_graph.drive.add_file("deck.pptx", b"old", folder)

    result = upload_to_folder(
        folder.sharing_url, "deck.pptx", b"new", PPTX, conflict="rename", settings=sharepoint_settings
    )

    assert result["name"] == "deck 1.pptx"


def test_large_file_is_uploaded_in_a_session_in_320_kib_multiples(
    fake_graph: FakeGraph, session_settings: SharePointSettings
) -> None:
    folder = fake_graph.drive.add_folder("Decks")
    data = bytes(range(256)) * 4000  # 1,024,000 bytes: three full chunks and a short last one

    result = upload_to_folder(folder.sharing_url, "big.pptx", data, PPTX, settings=session_settings)

    assert fake_graph.upload_ranges() == [
        (0, 327_679, 1_024_000),
        (327_680, 655_359, 1_024_000),
        (655_360, 983_039, 1_024_000),
        (983_040, 1_023_999, 1_024_000),
    ]
    stored = fake_graph.drive.child(folder.id, "big.pptx")
    assert stored is not None and stored.data == data
    assert result["size"] == len(data)
    assert fake_graph.leaked_authorization == []


def test_failed_chunk_is_retried_within_the_session(
    fake_graph: FakeGraph, session_settings: SharePointSettings
) -> None:
    folder = fake_graph.drive.add_folder("Decks")
    fake_graph.fail(503, times=1, retry_after="0", path_part="/upload/")

    upload_to_folder(folder.sharing_url, "big.pptx", b"z" * 400 * KIB, PPTX, settings=session_settings)

    stored = fake_graph.drive.child(folder.id, "big.pptx")
    assert stored is not None and len(stored.data) == 400 * KIB


def test_abandoned_session_is_cancelled(fake_graph: FakeGraph, session_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")
    fake_graph.fail(500, times=3, retry_after="0", path_part="/upload/")

    with pytest.raises(TransientFailure, match=r"kept failing \(500\)"):
        upload_to_folder(folder.sharing_url, "big.pptx", b"z" * 400 * KIB, PPTX, settings=session_settings)

    assert fake_graph.drive.sessions == {}
    assert fake_graph.requests[-1][0] == "DELETE"


def test_overwrite_replaces_the_content_in_place(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings
) -> None:
    item = fake_graph.drive.add_file("book.xlsx", b"old")

    result = overwrite(item.sharing_url, b"new content", "application/octet-stream", settings=sharepoint_settings)

    assert item.data == b"new content"
    assert (result["id"], result["url"], result["size"]) == (item.id, item.web_url, 11)


def test_large_overwrite_uses_a_session(fake_graph: FakeGraph, session_settings: SharePointSettings) -> None:
    item = fake_graph.drive.add_file("book.xlsx", b"old")
    data = b"y" * (700 * KIB)

    result = overwrite(item.sharing_url, data, "application/octet-stream", settings=session_settings)

    assert item.data == data
    assert result["id"] == item.id
    assert [r[:2] for r in fake_graph.upload_ranges()] == [(0, 327_679), (327_680, 655_359), (655_360, 716_799)]


def test_upload_destination_must_be_a_folder(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    item = fake_graph.drive.add_file("book.xlsx", b"old")

    with pytest.raises(InvalidRequest, match="destination is a file, not a folder"):
        upload_to_folder(item.sharing_url, "x.xlsx", b"x", "application/octet-stream", settings=sharepoint_settings)


def test_overwrite_target_must_be_a_file(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")

    with pytest.raises(InvalidRequest, match="folder, not a file"):
        overwrite(folder.sharing_url, b"x", "application/octet-stream", settings=sharepoint_settings)


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("", "is empty"),
        ("a/b.xlsx", "character SharePoint does not allow"),
        ("what?.xlsx", "character SharePoint does not allow"),
        ("report.", "ends with a dot"),
        ("x" * 256, "longer than 255"),
    ],
)
def test_invalid_file_names_are_refused_before_any_request(
    fake_graph: FakeGraph, sharepoint_settings: SharePointSettings, name: str, problem: str
) -> None:
    folder = fake_graph.drive.add_folder("Decks")

    with pytest.raises(InvalidRequest, match=problem):
        upload_to_folder(folder.sharing_url, name, b"x", PPTX, settings=sharepoint_settings)

    assert fake_graph.requests == []


def test_unknown_conflict_rule_is_refused(fake_graph: FakeGraph, sharepoint_settings: SharePointSettings) -> None:
    folder = fake_graph.drive.add_folder("Decks")

    with pytest.raises(InvalidRequest, match="use one of replace, fail, rename"):
        upload_to_folder(folder.sharing_url, "a.pptx", b"x", PPTX, conflict="overwrite", settings=sharepoint_settings)

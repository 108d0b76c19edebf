"""Bad input through the live service: each is a clear 400 or a clearly failed job, and the service
stays healthy afterwards (ready, and the next real job completes)."""

from __future__ import annotations

import random
import re
import struct
from collections.abc import Iterator
from typing import Any

import pytest

from tests.handlers.builders import b64, report_workbook, rezip, template_deck
from tests.handlers.conftest import MAX_DOWNLOAD_BYTES
from tests.handlers.live import MIB, LiveService, live_service
from tests.handlers.test_safety import BILLION_LAUGHS
from tests.sharepoint.fake_graph import FakeGraph

EXTRACT, MERGE, UPDATE = "/api/v1/extract", "/api/v1/merge", "/api/v1/update"
# Addresses the strict server puts on its allow-list, to show that the address rule still applies.
PRIVATE_HOSTS = ("10.20.30.40", "127.0.0.1", "169.254.169.254", "localhost")


@pytest.fixture(scope="module")
def strict(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveService]:
    """A server with the default address rule (no private addresses) and no SharePoint credentials."""
    env = {
        "DOCJOBS_SHAREPOINT_ALLOWED_HOSTS": ",".join(("*.sharepoint.com", "graph.microsoft.com", *PRIVATE_HOSTS)),
    }
    with live_service(tmp_path_factory.mktemp("strict"), env) as service:
        yield service


def rules(*items: dict[str, Any], sheet: str = "Report") -> dict[str, Any]:
    return {"excel_base64": b64(report_workbook()), "config": {"sheets": {sheet: {"extraction_rules": list(items)}}}}


def lying_zip() -> bytes:
    data = bytearray(rezip(report_workbook(), {}, extra={"zz.bin": random.Random(0).randbytes(8192)}))
    offset = data.rfind(b"PK\x01\x02")  # the last member's central directory entry
    data[offset + 24 : offset + 28] = struct.pack("<I", 1)  # declares 1 byte uncompressed
    return bytes(data)


def truncated() -> bytes:
    data = report_workbook()
    return data[: len(data) // 2]


BAD_FILES = {
    # extract says what the file is (it reads .xls/.xlsb/.ods too); update says what it takes.
    "not a zip": (
        b"name,amount\nx,1\n",
        r"is a text file \(CSV or similar\), not a workbook|not an Excel workbook \(\.xlsx\): it is not a zip archive",
    ),
    "legacy or encrypted": (
        b"\xd0\xcf\x11\xe0" + b"\0" * 100,
        "legacy binary or password-protected|an OLE container without a workbook",
    ),
    "truncated": (truncated(), "is truncated or damaged: its zip directory is missing or invalid"),
    # 20 MiB of zeros deflate to ~20 KiB; the server's cap is 10 MiB, so nothing is inflated.
    "zip bomb": (
        rezip(report_workbook(), {}, extra={"xl/media/padding.bin": b"\0" * (20 * MIB)}),
        "would inflate to 20 MiB; the limit is 10 MiB",
    ),
    "false declared size": (lying_zip(), "declares a false uncompressed size"),
    "xml entity expansion": (
        rezip(report_workbook(), {"xl/sharedStrings.xml": BILLION_LAUGHS}),
        "part 'xl/sharedStrings.xml' declares a DTD.*entity-expansion attack",
    ),
}


@pytest.mark.parametrize("case", list(BAD_FILES))
@pytest.mark.parametrize("endpoint", [EXTRACT, UPDATE])
def test_a_hostile_or_broken_workbook_fails_the_job_clearly(live: LiveService, endpoint: str, case: str) -> None:
    data, message = BAD_FILES[case]
    payload: dict[str, Any] = {"excel_base64": b64(data), "file_name": "in.xlsx"}
    if endpoint == UPDATE:
        payload["updates"] = [{"sheet": "Report", "cell": "A1", "value": 1}]

    failure = live.failure(endpoint, payload)

    assert failure.startswith("Job failed: in.xlsx"), failure
    assert re.search(message, failure), failure
    live.assert_healthy()


@pytest.mark.parametrize(
    ("template", "message"),
    [
        (b"%PDF-1.7", r"not a PowerPoint file \(\.pptx\): it is not a zip archive"),
        (rezip(template_deck(), {"ppt/presentation.xml": BILLION_LAUGHS}), "declares a DTD"),
    ],
    ids=["not a zip", "xml entity expansion"],
)
def test_a_hostile_or_broken_template_fails_the_merge_clearly(live: LiveService, template: bytes, message: str) -> None:
    failure = live.failure(MERGE, {"template_base64": b64(template), "file_name": "deck.pptx"})

    assert failure.startswith("Job failed: deck.pptx"), failure
    assert re.search(message, failure), failure
    live.assert_healthy()


@pytest.mark.parametrize(
    "payload",
    [
        {"excel_base64": b64(report_workbook()), "sheet_names": ["Nope"]},
        rules({"type": "cell", "key": "k", "cell": "A1"}, sheet="Nope"),
    ],
    ids=["sheet_names", "config.sheets"],
)
def test_a_missing_sheet_fails_the_job_naming_the_sheets_there_are(live: LiveService, payload: dict[str, Any]) -> None:
    # Which sheets a workbook has is only known once the file is read, so this is a failed job.
    failure = live.failure(EXTRACT, payload)

    assert failure == "Job failed: sheet 'Nope' not found; the workbook has: 'Report', 'Other'"
    live.assert_healthy()


def test_updating_a_missing_sheet_fails_the_job_clearly(live: LiveService) -> None:
    payload = {"excel_base64": b64(report_workbook()), "updates": [{"sheet": "Nope", "cell": "A1", "value": 1}]}

    assert "'Nope'" in live.failure(UPDATE, payload)
    live.assert_healthy()


TEMPLATE = {"template_base64": b64(template_deck())}
INVALID_PAYLOADS: dict[str, tuple[str, dict[str, Any], str]] = {
    "cell reference": (
        EXTRACT,
        rules({"type": "cell", "key": "k", "cell": "B"}),
        "config.sheets.Report.extraction_rules[0].cell: 'B' is not a cell reference like 'B2'",
    ),
    "cell outside the sheet": (
        EXTRACT,
        rules({"type": "cell", "key": "k", "cell": "XFE1"}),
        "config.sheets.Report.extraction_rules[0].cell: 'XFE1' is outside the sheet (A1:XFD1048576)",
    ),
    "table range": (
        EXTRACT,
        rules({"type": "table", "name": "t", "range": "A5"}),
        "config.sheets.Report.extraction_rules[0].range: 'A5' is not a range like 'A5:C9'",
    ),
    "unknown rule type": (
        EXTRACT,
        rules({"type": "cell", "key": "a", "cell": "A1"}, {"type": "formula", "key": "k"}),
        "config.sheets.Report.extraction_rules[1].type: unknown rule type 'formula'; "
        "expected one of cell, label, table, images",
    ),
    "unknown rule type in merge's excel": (
        MERGE,
        {**TEMPLATE, "excel": rules({"type": "chart"})},
        "excel.config.sheets.Report.extraction_rules[0].type: unknown rule type 'chart'; "
        "expected one of cell, label, table, images",
    ),
    "update anchor": (
        UPDATE,
        {"excel_base64": b64(report_workbook()), "updates": [{"sheet": "Report", "anchor": "1A", "values": [[1]]}]},
        "updates[0].anchor: '1A' is not a cell reference like 'B2'",
    ),
    "unknown update": (
        UPDATE,
        {"excel_base64": b64(report_workbook()), "updates": [{"sheet": "Report", "delete_rows": [1]}]},
        "updates[0]: expected one of 'cell', 'anchor', 'append_rows' or 'create_sheet'",
    ),
    "not base64": (EXTRACT, {"excel_base64": "not base64!"}, "excel_base64: not valid base64"),
}


@pytest.mark.parametrize("case", list(INVALID_PAYLOADS))
def test_an_invalid_payload_is_a_400_at_start_naming_the_field(live: LiveService, case: str) -> None:
    endpoint, payload, message = INVALID_PAYLOADS[case]

    answer = live.start(endpoint, payload)

    assert answer.status == 400, answer.body
    assert (answer.body["error"], answer.body["message"]) == ("invalid_payload", message)
    live.assert_healthy()


# -- downloads and URLs ---------------------------------------------------------------------------


def test_an_oversized_download_fails_the_job_saying_so(live: LiveService, live_graph: FakeGraph) -> None:
    item = live_graph.drive.add_file("Huge.xlsx", random.Random(1).randbytes(MAX_DOWNLOAD_BYTES + 1))

    failure = live.failure(EXTRACT, {"sharepoint_excel_url": item.sharing_url})

    assert failure.startswith("Job failed: The SharePoint file is too large to download"), failure
    live.assert_healthy()


OFF_LIST = "https://evil.example.com/:x:/s/team/Eabc"
URL_PAYLOADS: dict[str, tuple[str, dict[str, Any], str]] = {
    "off the allow-list": (
        EXTRACT,
        {"sharepoint_excel_url": OFF_LIST},
        "sharepoint_excel_url: URL not allowed: host 'evil.example.com', which is not on the allow-list",
    ),
    "plain http": (
        EXTRACT,
        {"sharepoint_excel_url": "http://contoso.sharepoint.com/:x:/s/team/Eabc"},
        "sharepoint_excel_url: must be an https:// URL",
    ),
    "embedded credentials": (
        UPDATE,
        {"sharepoint_excel_url": "https://me:pw@contoso.sharepoint.com/a.xlsx", "updates": [{"create_sheet": "S"}]},
        "sharepoint_excel_url: URL not allowed: a URL without a host or with embedded credentials",
    ),
    "template off the allow-list": (
        MERGE,
        {"sharepoint_pptx_url": OFF_LIST},
        "sharepoint_pptx_url: URL not allowed: host 'evil.example.com'",
    ),
    "merge's excel off the allow-list": (
        MERGE,
        {**TEMPLATE, "excel": {"sharepoint_excel_url": OFF_LIST}},
        "excel.sharepoint_excel_url: URL not allowed: host 'evil.example.com'",
    ),
    "upload folder off the allow-list": (
        MERGE,
        {**TEMPLATE, "output": {"sharepoint_folder_url": OFF_LIST}},
        "output.sharepoint_folder_url: URL not allowed: host 'evil.example.com'",
    ),
}


@pytest.mark.parametrize("case", list(URL_PAYLOADS))
def test_a_url_that_may_not_be_fetched_is_a_400_at_start_naming_the_field(live: LiveService, case: str) -> None:
    endpoint, payload, message = URL_PAYLOADS[case]

    answer = live.start(endpoint, payload)

    assert answer.status == 400, answer.body
    assert answer.body["message"].startswith(message), answer.body
    live.assert_healthy()


@pytest.mark.parametrize(
    ("host", "address"),
    [
        ("10.20.30.40", "'10.20.30.40'"),
        ("127.0.0.1", "'127.0.0.1'"),
        ("169.254.169.254", "'169.254.169.254'"),
    ],
)
def test_a_private_address_is_a_400_unless_the_configuration_allows_it(
    strict: LiveService, host: str, address: str
) -> None:
    # The host is on the allow-list: the address rule refuses it on its own.
    answer = strict.start(EXTRACT, {"sharepoint_excel_url": f"https://{host}/:x:/s/team/Eabc"})

    assert answer.status == 400, answer.body
    assert answer.body["message"] == (
        f"sharepoint_excel_url: URL not allowed: host {address}, a loopback, link-local, private or otherwise "
        "non-public address (set DOCJOBS_SHAREPOINT_ALLOW_PRIVATE_ADDRESSES=true only for tests)"
    )
    strict.assert_healthy()


def test_sharepoint_without_credentials_fails_the_job_naming_the_settings(strict: LiveService) -> None:
    # A host name passes validation (its addresses are checked when connecting); the job then
    # stops before any network access because the server has no credentials.
    failure = strict.failure(EXTRACT, {"sharepoint_excel_url": "https://contoso.sharepoint.com/:x:/s/team/Eabc"})

    assert failure.startswith(
        "Job failed: SharePoint is not configured on this server: set DOCJOBS_SHAREPOINT_TENANT_ID"
    )
    strict.assert_healthy()

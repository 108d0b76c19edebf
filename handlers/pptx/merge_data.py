"""The data a merge fills a template with: given inline, extracted from Excel, or both."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from handlers.common.errors import PayloadError
from handlers.common.payload import check_base64, check_keys, decode_base64, require_list, require_mapping
from handlers.pptx.charts import Table


@dataclass(slots=True)
class MergeData:
    """Placeholder values, tables by name and images (bytes) by name."""

    values: dict[str, Any] = field(default_factory=dict)
    tables: dict[str, Table] = field(default_factory=dict)
    images: dict[str, bytes] = field(default_factory=dict)


def check_inline(value: object, field_name: str = "data") -> None:
    """Check the structure of the inline `data` object."""
    data = require_mapping(value, field_name)
    check_keys(data, {"key_value_pairs", "tables", "images"}, field_name)
    require_mapping(data.get("key_value_pairs", {}), f"{field_name}.key_value_pairs")
    for name, table in require_mapping(data.get("tables", {}), f"{field_name}.tables").items():
        as_table(table, f"{field_name}.tables.{name}")
    for name, image in require_mapping(data.get("images", {}), f"{field_name}.images").items():
        check_base64(image, f"{field_name}.images.{name}")


def from_inline(value: Mapping[str, Any]) -> MergeData:
    """MergeData from a checked inline `data` object."""
    tables = value.get("tables", {})
    images = value.get("images", {})
    return MergeData(
        dict(value.get("key_value_pairs", {})),
        {name: as_table(table, f"data.tables.{name}") for name, table in tables.items()},
        {name: decode_base64(image, f"data.images.{name}") for name, image in images.items()},
    )


def from_extract(extracted: Mapping[str, Any]) -> MergeData:
    """MergeData from an extract result: names are plain (`total`) and sheet-qualified (`Sheet1!total`).

    When two sheets use the same plain name, the first sheet wins; the qualified name reaches either.
    """
    merged = MergeData()
    for sheet, result in extracted["sheets"].items():
        for key, value in result["key_value_pairs"].items():
            merged.values.setdefault(key, value)
            merged.values[f"{sheet}!{key}"] = value
        for table in result["tables"]:
            entry = (list(table["headers"]), list(table["rows"]))
            merged.tables.setdefault(table["name"], entry)
            merged.tables[f"{sheet}!{table['name']}"] = entry
        for image in result["images"]:
            if image["anchor"]:
                merged.images[f"{sheet}!{image['anchor']}"] = decode_base64(image["data_base64"], "excel image")
    return merged


def combine(base: MergeData, override: MergeData) -> MergeData:
    """`override` (the inline data) wins over `base` (the Excel data) name by name."""
    return MergeData(
        {**base.values, **override.values},
        {**base.tables, **override.tables},
        {**base.images, **override.images},
    )


def as_table(value: object, field_name: str) -> Table:
    """A table given as a list of records, or as `{"headers", "rows"}` like extract returns it."""
    if isinstance(value, Mapping):
        check_keys(value, {"name", "headers", "rows"}, field_name)
        rows = _records(value.get("rows", []), f"{field_name}.rows")
        headers = [str(header) for header in require_list(value.get("headers", []), f"{field_name}.headers")]
        return headers or _headers_of(rows), rows
    rows = _records(value, field_name)
    return _headers_of(rows), rows


def _records(value: object, field_name: str) -> list[dict[str, Any]]:
    rows = require_list(value, field_name)
    for index, row in enumerate(rows):
        if not isinstance(row, Mapping):
            raise PayloadError(f"{field_name}[{index}]: expected a record object (header -> value)")
    return rows


def _headers_of(rows: list[dict[str, Any]]) -> list[str]:
    headers: dict[str, None] = {}
    for row in rows:
        headers.update(dict.fromkeys(map(str, row)))
    return list(headers)

"""Extraction rules: parsed and checked from the payload, before any file is opened."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from handlers.common.errors import PayloadError
from handlers.common.payload import check_keys, require_list, require_mapping, require_str
from handlers.xlsx.cells import Cell, CellRange, parse_cell, parse_range


@dataclass(frozen=True, slots=True)
class CellRule:
    """`{"type": "cell", "key", "cell"}`: the value of one cell."""

    key: str
    cell: Cell


@dataclass(frozen=True, slots=True)
class LabelRule:
    """`{"type": "label", "key", "label", "direction", "offset"}`: the value next to a label text."""

    key: str
    label: str
    direction: Literal["right", "below"]
    offset: int


@dataclass(frozen=True, slots=True)
class TableRule:
    """`{"type": "table", "name"}` with exactly one of `range`, `start` or `excel_table`."""

    name: str
    range: CellRange | None = None
    start: Cell | None = None
    excel_table: str | None = None


@dataclass(frozen=True, slots=True)
class ImagesRule:
    """`{"type": "images"}`: every picture on the sheet."""


Rule = CellRule | LabelRule | TableRule | ImagesRule

RULE_TYPES = ("cell", "label", "table", "images")
_TABLE_SOURCES = ("range", "start", "excel_table")
MAX_LABEL_OFFSET = 100  # a label's value is next to it; a long jump is a mistake in the payload


def parse_rules(value: object, field: str) -> list[Rule]:
    """Parse a sheet's `extraction_rules` list; keys and table names must be unique within it."""
    rules = [parse_rule(item, f"{field}[{index}]") for index, item in enumerate(require_list(value, field))]
    seen: set[tuple[str, str]] = set()
    for index, rule in enumerate(rules):
        if isinstance(rule, CellRule | LabelRule):
            name = ("key", rule.key)
        elif isinstance(rule, TableRule):
            name = ("name", rule.name)
        else:
            continue
        if name in seen:
            raise PayloadError(f"{field}[{index}].{name[0]}: {name[1]!r} is used by an earlier rule")
        seen.add(name)
    return rules


def parse_rule(value: object, field: str) -> Rule:
    """Parse one rule object; the message of any error names the field."""
    rule = require_mapping(value, field)
    kind = rule.get("type")
    if kind not in RULE_TYPES:
        raise PayloadError(f"{field}.type: unknown rule type {kind!r}; expected one of {', '.join(RULE_TYPES)}")
    if kind == "cell":
        check_keys(rule, {"type", "key", "cell"}, field)
        return CellRule(require_str(rule.get("key"), f"{field}.key"), parse_cell(rule.get("cell"), f"{field}.cell"))
    if kind == "label":
        return _parse_label(rule, field)
    if kind == "table":
        return _parse_table(rule, field)
    check_keys(rule, {"type"}, field)
    return ImagesRule()


def _parse_label(rule: Mapping[str, Any], field: str) -> LabelRule:
    check_keys(rule, {"type", "key", "label", "direction", "offset"}, field)
    direction = rule.get("direction", "right")
    if direction not in ("right", "below"):
        raise PayloadError(f"{field}.direction: expected 'right' or 'below', got {direction!r}")
    offset = rule.get("offset", 1)
    if type(offset) is not int or not 1 <= offset <= MAX_LABEL_OFFSET:
        raise PayloadError(f"{field}.offset: expected a whole number from 1 to {MAX_LABEL_OFFSET}")
    label = require_str(rule.get("label"), f"{field}.label")
    return LabelRule(require_str(rule.get("key"), f"{field}.key"), label, direction, offset)


def _parse_table(rule: Mapping[str, Any], field: str) -> TableRule:
    check_keys(rule, {"type", "name", *_TABLE_SOURCES}, field)
    name = require_str(rule.get("name"), f"{field}.name")
    given = [source for source in _TABLE_SOURCES if rule.get(source) is not None]
    if len(given) != 1:
        raise PayloadError(f"{field}: a table rule needs exactly one of 'range', 'start' or 'excel_table'")
    source = given[0]
    if source == "range":
        return TableRule(name, range=parse_range(rule["range"], f"{field}.range"))
    if source == "start":
        return TableRule(name, start=parse_cell(rule["start"], f"{field}.start"))
    return TableRule(name, excel_table=require_str(rule["excel_table"], f"{field}.excel_table"))


def normalise_label(text: str) -> str:
    """How labels are compared: case-insensitive, ignoring surrounding spaces and a trailing colon."""
    return text.strip().rstrip(":").strip().casefold()

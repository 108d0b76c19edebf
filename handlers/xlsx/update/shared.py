"""Shared formulas whose master cell is overwritten: the other cells get their formula written out.

In a shared formula only the master (the range's first cell) holds the formula text; every other cell
of the range says `<f t="shared" si="N"/>` and takes the master's formula shifted to its own position.
Overwriting the master alone would leave them with nothing, so each gets its own formula instead,
translated by openpyxl's formula translator (relative references move, absolute ones stay).
"""

from __future__ import annotations

from dataclasses import dataclass

from openpyxl.formula.translate import Translator

from handlers.xlsx.cells import CellRange, column_letters, parse_range
from handlers.xlsx.update.cells import Cell
from handlers.xlsx.update.xml import Tag, attributes, element_end, escape_text, tags, unescape_attr


@dataclass(frozen=True, slots=True)
class Expansion:
    """A shared formula being written out: its id, the master's formula and position, its range."""

    si: bytes
    formula: str
    origin: str
    area: CellRange


def master_of(cell: Cell, row_number: int) -> Expansion | None:
    """The shared formula whose master `cell` is, if it covers other cells too."""
    tag = _formula_tag(cell)
    if tag is None:
        return None
    found = attributes(tag.attrs)
    ref = unescape_attr(found.get(b"ref", b""))
    if found.get(b"t") != b"shared" or b"si" not in found or not ref:
        return None
    try:
        area = parse_range(ref if ":" in ref else f"{ref}:{ref}", "ref")
    except ValueError:
        return None
    if area.first == area.last:
        return None
    end = element_end(cell.data, tag)
    text = b"" if tag.empty else cell.data[tag.end : cell.data.rfind(b"</", 0, end)]
    origin = f"{column_letters(cell.col)}{row_number}"
    return Expansion(found[b"si"], unescape_attr(text), origin, area)


def expand_cell(cell: Cell, row_number: int, expansions: list[Expansion]) -> bytes | None:
    """The cell with its formula written out if it uses one of `expansions`, else None."""
    if b"shared" not in cell.data:
        return None
    tag = _formula_tag(cell)
    if tag is None:
        return None
    found = attributes(tag.attrs)
    if found.get(b"t") != b"shared" or b"ref" in found:
        return None
    for expansion in expansions:
        inside = expansion.area.first.row <= row_number - 1 <= expansion.area.last.row
        if found.get(b"si") == expansion.si and inside:
            target = f"{column_letters(cell.col)}{row_number}"
            formula = Translator(f"={expansion.formula}", origin=expansion.origin).translate_formula(target)
            name = tag.qname
            element = b"<" + name + b">" + escape_text(formula.removeprefix("=")) + b"</" + name + b">"
            return cell.data[: tag.start] + element + cell.data[element_end(cell.data, tag) :]
    return None


def _formula_tag(cell: Cell) -> Tag | None:
    return next((tag for tag in tags(cell.data) if tag.local == b"f" and not tag.closing), None)

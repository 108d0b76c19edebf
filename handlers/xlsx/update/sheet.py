"""Rewrite one worksheet part as a stream: untouched rows pass through as their original bytes.

A touched row is split into cells; the cells the plan writes are re-serialised (keeping their other
attributes), the rest keep their bytes, and new cells are placed in column order. Rows and cells whose
position was implicit (no `r`) get one only where something new before them would shift it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from handlers.common.errors import UpdateFailed
from handlers.xlsx.cells import CellRange, column_letters, parse_range
from handlers.xlsx.update.cells import Cell, ParsedRow, cell_xml, parse_row, with_position
from handlers.xlsx.update.plan import Position, SheetPlan, Write
from handlers.xlsx.update.rows import Between, Row, SheetReader
from handlers.xlsx.update.shared import Expansion, expand_cell, master_of
from handlers.xlsx.update.styles import Styles
from handlers.xlsx.update.xml import TOKEN, attributes, edit_attrs, find_first, unescape_attr

_FLUSH_BYTES = 1024 * 1024  # writes to the zip stream are batched: one deflate call per MiB
_TRUE = {b"1", b"true"}


@dataclass(slots=True)
class _State:
    plan: SheetPlan
    styles: Styles | None
    prefix: bytes
    touched: list[int]  # 0-based rows still to write, in order
    style_rows: set[int]
    writes: dict[int, dict[int, Write]]  # row -> column -> write
    expansions: list[Expansion] = field(default_factory=list)  # shared formulas whose master is written
    moved: dict[int, list[Cell]] = field(default_factory=dict)  # destination row -> cells moving there
    styles_seen: dict[Position, bytes] = field(default_factory=dict)
    last_number: int = 0  # the 1-based number of the last row written


class _Sink:
    def __init__(self, write: Callable[[bytes], object]) -> None:
        self._write = write
        self._parts: list[bytes] = []
        self._size = 0

    def add(self, data: bytes) -> None:
        self._parts.append(data)
        self._size += len(data)
        if self._size >= _FLUSH_BYTES:
            self.flush()

    def flush(self) -> None:
        self._write(b"".join(self._parts))
        self._parts, self._size = [], 0


def rewrite_sheet(
    reader: SheetReader, plan: SheetPlan, styles: Styles | None, write: Callable[[bytes], object]
) -> None:
    """Stream the sheet from `reader` to `write` with the plan's changes."""
    sink = _Sink(write)
    head, data_tag, empty = reader.head()
    sink.add(_with_dimension(head, plan.bounds()))
    prefix = data_tag[1:].partition(b"sheetData")[0]
    style_rows = {w.style_from[0] for w in plan.writes.values() if w.style_from is not None}
    by_row: dict[int, dict[int, Write]] = {}
    for (row, col), cell_write in plan.writes.items():
        by_row.setdefault(row, {})[col] = cell_write
    state = _State(plan, styles, prefix, sorted(plan.touched_rows()), style_rows, by_row)
    sink.add(data_tag[:-2] + b">" if empty else data_tag)
    for piece in reader.rows():
        if isinstance(piece, Between):
            sink.add(piece.data)
            continue
        index = piece.number - 1
        while state.touched and state.touched[0] < index:
            sink.add(_rewrite_row(state, None, state.touched.pop(0)))
        if index in state.style_rows:
            _remember_styles(state, piece)
        if state.touched and state.touched[0] == index:
            sink.add(_rewrite_row(state, piece, state.touched.pop(0)))
        else:
            sink.add(_keep_row(state, piece))
    while state.touched:
        sink.add(_rewrite_row(state, None, state.touched.pop(0)))
    if empty:
        sink.add(b"</" + prefix + b"sheetData>")
    for chunk in reader.tail():
        sink.add(chunk)
    sink.flush()


def _with_dimension(head: bytes, bounds: CellRange | None) -> bytes:
    tag = find_first(head, b"dimension")
    if tag is None or bounds is None:
        return head
    try:
        ref = unescape_attr(attributes(tag.attrs).get(b"ref", b"A1"))
        old = parse_range(ref if ":" in ref else f"{ref}:{ref}", "ref")
    except ValueError:
        return head
    first = (min(old.first.row, bounds.first.row), min(old.first.col, bounds.first.col))
    last = (max(old.last.row, bounds.last.row), max(old.last.col, bounds.last.col))
    ref_text = f"{column_letters(first[1])}{first[0] + 1}:{column_letters(last[1])}{last[0] + 1}"
    attrs = edit_attrs(tag.attrs, {b"ref": ref_text.encode()})
    return head[: tag.start] + b"<" + tag.qname + attrs + (b"/>" if tag.empty else b">") + head[tag.end :]


def _remember_styles(state: _State, row: Row) -> None:
    for cell in parse_row(row.data, state.plan.sheet.part).cells:
        style = cell.attrs.get(b"s")
        if style is not None:
            state.styles_seen[row.number - 1, cell.col] = style


def _keep_row(state: _State, row: Row) -> bytes:
    """An untouched row: its bytes, with an explicit `r` only if its implicit one would now be wrong."""
    previous, state.last_number = state.last_number, row.number
    data = _expanded(state, row) if state.expansions else row.data
    if row.explicit or previous == row.number - 1:
        return data
    parsed = parse_row(data, state.plan.sheet.part)
    attrs = edit_attrs(parsed.attrs, {b"r": str(row.number).encode()})
    return b"<" + parsed.qname + attrs + data[len(b"<" + parsed.qname + parsed.attrs) :]


def _expanded(state: _State, row: Row) -> bytes:
    """The row with the cells that use an overwritten shared formula given their own formula."""
    if b"shared" not in row.data:
        return row.data
    parsed = parse_row(row.data, state.plan.sheet.part)
    body = b"".join(cell.lead + (expand_cell(cell, row.number, state.expansions) or cell.data) for cell in parsed.cells)
    start = TOKEN.match(row.data)
    assert start is not None  # parse_row checked it
    return row.data[: start.end()] + body + parsed.trailer + b"</" + parsed.qname + b">"


def _rewrite_row(state: _State, row: Row | None, index: int) -> bytes:
    part = state.plan.sheet.part
    parsed = parse_row(row.data, part) if row is not None else ParsedRow(state.prefix + b"row", b"")
    row_attrs = attributes(parsed.attrs)
    row_style = row_attrs.get(b"s") if row_attrs.get(b"customFormat", b"").lower() in _TRUE else None
    writes = dict(state.writes.pop(index, {}))
    cells: list[tuple[int, bytes, Cell | None]] = []  # column, bytes, the original cell if kept as is
    for cell in parsed.cells:
        destination = state.plan.moves.get((index, cell.col))
        if destination is not None:
            state.moved.setdefault(destination, []).append(cell)
            continue
        _check_empty(state, index, cell)
        if cell.col in writes:
            cells.append((cell.col, _written(state, index, cell, writes.pop(cell.col), row_style), None))
        elif state.expansions and (expanded := expand_cell(cell, index + 1, state.expansions)) is not None:
            cells.append((cell.col, cell.lead + with_position(cell, index + 1)[:0] + expanded, None))
        else:
            cells.append((cell.col, cell.data, cell))
    for cell in state.moved.pop(index, []):
        cells.append((cell.col, with_position(cell, index + 1), None))
    for col, write in writes.items():
        cells.append((col, _written(state, index, None, write, row_style, col), None))
    cells.sort(key=lambda item: item[0])
    state.last_number = index + 1
    attrs = edit_attrs(parsed.attrs, {b"r": str(index + 1).encode(), b"spans": None})
    return (
        b"<" + parsed.qname + attrs + b">" + _cells_bytes(cells, index) + parsed.trailer + b"</" + parsed.qname + b">"
    )


def _cells_bytes(cells: list[tuple[int, bytes, Cell | None]], index: int) -> bytes:
    out: list[bytes] = []
    previous = -1
    for col, data, original in cells:
        if original is not None:
            needs_position = not original.explicit and previous != col - 1
            out.append(original.lead + (with_position(original, index + 1) if needs_position else data))
        else:
            out.append(data)
        previous = col
    return b"".join(out)


def _check_empty(state: _State, index: int, cell: Cell) -> None:
    for region in state.plan.must_be_empty:
        if index in region.rows and cell.col in region.cols and cell.has_value:
            raise UpdateFailed(f"cannot extend table {region.table!r}: row {index + 1} below it is not empty")


def _written(
    state: _State, index: int, cell: Cell | None, write: Write, row_style: bytes | None, col: int | None = None
) -> bytes:
    column = cell.col if cell is not None else col
    assert column is not None
    if cell is not None and (master := master_of(cell, index + 1)) is not None:
        state.expansions.append(master)
    style = cell.attrs.get(b"s") if cell is not None else row_style
    if write.style_from is not None:
        style = state.styles_seen.get(write.style_from, style)
    if write.date is not None and state.styles is not None:
        date_style = state.styles.date_style(int(style) if style and style.isdigit() else 0, write.date)
        style = style if date_style is None else str(date_style).encode()
    old_attrs = cell.attrs_raw if cell is not None else b""
    return cell_xml(state.prefix, index + 1, column, old_attrs, write.value, formula=write.formula, style=style)

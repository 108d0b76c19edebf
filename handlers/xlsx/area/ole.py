"""One stream out of an OLE compound file (MS-CFB), enough to read the Workbook stream of an .xls.

Only reading is needed, of a file already capped in size; every sector chain is bounded by the file
(a loop in a hostile chain ends when it meets a sector seen before).
"""

from __future__ import annotations

from handlers.common.errors import InvalidFile

_HEADER = 512
_DIFAT_IN_HEADER = 109
_ENTRY = 128
_END_OF_CHAIN = 0xFFFF_FFFE
_STREAM = 2
_ROOT = 5


def _u16(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 2], "little")


def _u32(data: bytes, at: int) -> int:
    return int.from_bytes(data[at : at + 4], "little")


class _Container:
    """The sector geometry and allocation tables of a compound file."""

    def __init__(self, data: bytes) -> None:
        if len(data) < _HEADER:
            raise InvalidFile("the file is damaged: its OLE header is cut short")
        self.data = data
        self.sector = 1 << min(_u16(data, 0x1E), 16)
        self.mini = 1 << min(_u16(data, 0x20), 16)
        self.cutoff = _u32(data, 0x38)
        difat = [_u32(data, 0x4C + 4 * index) for index in range(_DIFAT_IN_HEADER)]
        difat += self._difat_sectors(_u32(data, 0x44))
        self.fat = [entry for sector in difat if self._readable(sector) for entry in self._words(sector)]

    def _readable(self, sector: int) -> bool:
        return sector < _END_OF_CHAIN - 2 and (sector + 1) * self.sector < len(self.data)

    def _words(self, sector: int) -> list[int]:
        start = (sector + 1) * self.sector
        block = self.data[start : start + self.sector]
        return [_u32(block, at) for at in range(0, len(block) - 3, 4)]

    def _difat_sectors(self, sector: int) -> list[int]:
        found: list[int] = []
        seen: set[int] = set()
        while self._readable(sector) and sector not in seen:
            seen.add(sector)
            words = self._words(sector)
            found += words[:-1]
            sector = words[-1] if words else _END_OF_CHAIN
        return found

    def chain(self, start: int, table: list[int]) -> list[int]:
        sectors: list[int] = []
        seen: set[int] = set()
        while 0 <= start < len(table) and start not in seen:
            seen.add(start)
            sectors.append(start)
            start = table[start]
        return sectors

    def read(self, start: int, size: int) -> bytes:
        blocks = (self.data[(s + 1) * self.sector : (s + 2) * self.sector] for s in self.chain(start, self.fat))
        return b"".join(blocks)[:size]


def read_streams(data: bytes, names: tuple[str, ...]) -> list[bytes]:
    """The contents of every stream called one of `names` (case-insensitively), in directory order."""
    container = _Container(data)
    directory = container.read(_u32(data, 0x30), len(data))
    root_start, root_size = -1, 0
    wanted: list[tuple[int, int]] = []
    lowered = {name.lower() for name in names}
    for at in range(0, len(directory) - _ENTRY + 1, _ENTRY):
        entry = directory[at : at + _ENTRY]
        length = min(_u16(entry, 64), 64)
        name = entry[: max(length - 2, 0)].decode("utf-16-le", errors="replace")
        kind, start, size = entry[66], _u32(entry, 116), _u32(entry, 120)
        if kind == _ROOT and root_start < 0:
            root_start, root_size = start, size
        elif kind == _STREAM and name.lower() in lowered:
            wanted.append((start, size))
    streams = []
    for start, size in wanted:
        if size < container.cutoff:
            # Small streams live in the mini stream (the root entry's data), in mini sectors.
            mini_stream = container.read(root_start, root_size)
            mini_fat_bytes = container.read(_u32(data, 0x3C), len(data))
            mini_fat = [_u32(mini_fat_bytes, i) for i in range(0, len(mini_fat_bytes) - 3, 4)]
            parts = (
                mini_stream[s * container.mini : (s + 1) * container.mini] for s in container.chain(start, mini_fat)
            )
            streams.append(b"".join(parts)[:size])
        else:
            streams.append(container.read(start, size))
    return streams

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
_MINI_CUTOFF = 4096  # calamine's, as the specification fixes it (the header's field is not read)
_MINI = 64


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
        shift = _u16(data, 0x1E)
        if shift not in (9, 12) or _u16(data, 0x20) != 6:
            raise InvalidFile("the file is damaged: its OLE header gives an invalid sector size")
        self.sector = 1 << shift
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

    def size(self, entry: bytes) -> int:
        """A directory entry's stream size: a u32 with 512-byte sectors, a u64 with 4096-byte ones."""
        return _u32(entry, 120) if self.sector == _HEADER else int.from_bytes(entry[120:128], "little")

    def read(self, start: int, size: int) -> bytes:
        blocks = (self.data[(s + 1) * self.sector : (s + 2) * self.sector] for s in self.chain(start, self.fat))
        return b"".join(blocks)[:size]


def read_stream(data: bytes, names: tuple[str, ...]) -> bytes | None:
    """The stream calamine would read for the first of `names` the directory has, or None.

    As calamine's reader does: the first directory entry whose name (up to its first NUL) is exactly
    the name, whatever the entry's type; its size as a u32 in a file of 512-byte sectors, a u64 in one
    of 4096; and a stream under 4096 bytes read from the mini stream.
    """
    container = _Container(data)
    directory = container.read(_u32(data, 0x30), len(data))
    entries = [directory[at : at + _ENTRY] for at in range(0, len(directory) - _ENTRY + 1, _ENTRY)]
    if not entries:
        return None
    found: dict[str, bytes] = {}
    for entry in entries:
        name = entry[:64].decode("utf-16-le", errors="ignore").partition("\0")[0]
        found.setdefault(name, entry)
    wanted = next((found[name] for name in names if name in found), None)
    if wanted is None:
        return None
    start, size = _u32(wanted, 116), container.size(wanted)
    if size >= _MINI_CUTOFF:
        return container.read(start, size)
    # Small streams live in the mini stream (the root entry's data), in 64-byte mini sectors.
    root = entries[0]
    mini_stream = container.read(_u32(root, 116), container.size(root))
    mini_fat_bytes = container.read(_u32(data, 0x3C), len(data))
    mini_fat = [_u32(mini_fat_bytes, i) for i in range(0, len(mini_fat_bytes) - 3, 4)]
    parts = (mini_stream[s * _MINI : (s + 1) * _MINI] for s in container.chain(start, mini_fat))
    return b"".join(parts)[:size]

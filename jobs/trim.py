"""Hand memory that the C allocator keeps after large objects are freed back to the system.

glibc raises its mmap threshold each time a large mmapped block is freed (up to 32 MiB), so the next
payloads and results of that size are carved from the heaps instead, and a thread's heap never gives
its top back. Pinning the threshold keeps every block of LARGE_BLOCK_BYTES or more in its own mapping,
returned to the system the moment it is freed; `malloc_trim(0)` after a sweep returns the rest.
"""

from __future__ import annotations

import ctypes
import ctypes.util
from functools import cache
from typing import Any

# Blocks this big (a payload's text, a result's bytes) get their own mapping; smaller ones stay in the
# heap, where mmap's cost per allocation would show.
LARGE_BLOCK_BYTES = 1024 * 1024
# mallopt parameters from glibc's malloc.h.
_M_TRIM_THRESHOLD = -1
_M_MMAP_THRESHOLD = -3


@cache
def _libc() -> Any:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    # musl and macOS have neither call: there the allocator behaves as it does.
    return libc if hasattr(libc, "malloc_trim") and hasattr(libc, "mallopt") else None


def pin_large_blocks_to_mmap() -> bool:
    """Make glibc map every large block apart (and keep the heap trimmed); False where it cannot."""
    libc = _libc()
    if libc is None:
        return False
    libc.mallopt(_M_MMAP_THRESHOLD, LARGE_BLOCK_BYTES)
    libc.mallopt(_M_TRIM_THRESHOLD, 2 * LARGE_BLOCK_BYTES)
    return True


def release_free_memory() -> bool:
    """Give free heap pages back to the system; False where the C library cannot (not glibc)."""
    libc = _libc()
    if libc is None:
        return False
    libc.malloc_trim(0)
    return True

"""What ``h5clear -s`` does, for files whose writer died: clear the "open for writing"
flags that HDF5 keeps in the superblock of a file written with ``libver="latest"``.

A process killed while writing (SIGKILL, power loss) leaves them set, and every
ordinary open (``h5py.File(path, "r")``, pandas, HDFView) then fails with "file is
already open for write" although the data up to the last flush is intact. The flags
sit in superblock versions 2 and 3 (format spec, section II.A), followed by a Jenkins
lookup3 checksum of the superblock, which is recomputed here. Only call this when the
writer is known to be gone: clearing the flags under a live writer corrupts the file.
"""

from __future__ import annotations

import struct
from pathlib import Path

SIGNATURE = b"\x89HDF\r\n\x1a\n"
# Where a superblock may start: 0, then 512 and every power of two after (a user block).
_OFFSETS = (0, 512, 1024, 2048, 4096, 8192)
_MASK = 0xFFFFFFFF


def _rot(x: int, k: int) -> int:
    return ((x << k) | (x >> (32 - k))) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, HDF5's metadata checksum."""
    n = len(data)
    a = b = c = (0xDEADBEEF + n + initval) & _MASK
    i = 0
    while n - i > 12:
        x, y, z = struct.unpack_from("<3I", data, i)
        a, b, c = (a + x) & _MASK, (b + y) & _MASK, (c + z) & _MASK
        a = ((a - c) & _MASK) ^ _rot(c, 4)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rot(a, 6)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rot(b, 8)
        b = (b + a) & _MASK
        a = ((a - c) & _MASK) ^ _rot(c, 16)
        c = (c + b) & _MASK
        b = ((b - a) & _MASK) ^ _rot(a, 19)
        a = (a + c) & _MASK
        c = ((c - b) & _MASK) ^ _rot(b, 4)
        b = (b + a) & _MASK
        i += 12
    if n == i:
        return c
    x, y, z = struct.unpack("<3I", data[i:] + bytes(12 - (n - i)))
    a, b, c = (a + x) & _MASK, (b + y) & _MASK, (c + z) & _MASK
    c = (c ^ b) - _rot(b, 14) & _MASK
    a = (a ^ c) - _rot(c, 11) & _MASK
    b = (b ^ a) - _rot(a, 25) & _MASK
    c = (c ^ b) - _rot(b, 16) & _MASK
    a = (a ^ c) - _rot(c, 4) & _MASK
    b = (b ^ a) - _rot(a, 14) & _MASK
    c = (c ^ b) - _rot(b, 24) & _MASK
    return c


def _superblock(f) -> tuple[int, bytearray] | None:
    """``(offset, bytes)`` of a version 2 or 3 superblock, None for any other file."""
    for offset in _OFFSETS:
        f.seek(offset)
        head = f.read(12)
        if len(head) < 12 or head[:8] != SIGNATURE:
            continue
        if head[8] not in (2, 3):
            return None
        size = 12 + 4 * head[9] + 4  # four addresses of `size of offsets` bytes, checksum
        f.seek(offset)
        return offset, bytearray(f.read(size))
    return None


def open_flags(path: str | Path) -> int:
    """The superblock's file-consistency flags (0: closed cleanly or not this format)."""
    with open(path, "rb") as f:
        found = _superblock(f)
    return found[1][11] if found else 0


def clear_open_flags(path: str | Path) -> bool:
    """Clear the flags a dead writer left; returns whether there were any."""
    with open(path, "r+b") as f:
        found = _superblock(f)
        if found is None or found[1][11] == 0:
            return False
        offset, block = found
        block[11] = 0
        block[-4:] = struct.pack("<I", lookup3(bytes(block[:-4])))
        f.seek(offset)
        f.write(block)
    return True

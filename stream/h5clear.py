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


_MIX = (4, 6, 8, 16, 19, 4)  # rotations of lookup3's mix() and final()
_FINAL = (14, 11, 25, 16, 4, 14, 24)


def _mix(v: list[int]) -> None:
    """lookup3's mix() on ``v = [a, b, c]``: six steps ``x -= y; x ^= rot(y, k); y += z``,
    the roles turning (a, c, b), (b, a, c), (c, b, a)."""
    for j, k in enumerate(_MIX):
        x, y, z = j % 3, (j + 2) % 3, (j + 1) % 3
        v[x] = ((v[x] - v[y]) & _MASK) ^ _rot(v[y], k)
        v[y] = (v[y] + v[z]) & _MASK


def _final(v: list[int]) -> None:
    """lookup3's final(): seven steps ``x ^= y; x -= rot(y, k)``, the roles turning (c, b),
    (a, c), (b, a)."""
    for j, k in enumerate(_FINAL):
        x, y = (j + 2) % 3, (j + 1) % 3
        v[x] = ((v[x] ^ v[y]) - _rot(v[y], k)) & _MASK


def lookup3(data: bytes, initval: int = 0) -> int:
    """Bob Jenkins' lookup3 ``hashlittle``, HDF5's metadata checksum."""
    n = len(data)
    v = [(0xDEADBEEF + n + initval) & _MASK] * 3
    i = 0
    while n - i > 12:
        v = [(s + w) & _MASK for s, w in zip(v, struct.unpack_from("<3I", data, i), strict=True)]
        _mix(v)
        i += 12
    if n == i:
        return v[2]
    tail = struct.unpack("<3I", data[i:] + bytes(12 - (n - i)))
    v = [(s + w) & _MASK for s, w in zip(v, tail, strict=True)]
    _final(v)
    return v[2]


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

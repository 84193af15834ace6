"""The videos of a job: video files, folders searched recursively by suffix, and list
files (``.txt``: one path a line; ``.csv``: a column named ``video`` or ``path``).

Relative paths in a list are taken from the list's folder; blank lines and lines
starting with ``#`` are skipped. Hidden folders (``.name``) are not searched, so
poseloop's own work folders never count as input. A path given twice is analyzed once.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from pathlib import Path

from calib.errors import VideoError
from train.data.video import VIDEO_SUFFIXES

LIST_SUFFIXES = (".txt", ".csv")
CSV_COLUMNS = ("video", "path", "file", "filename")


def is_video(path: Path) -> bool:
    return path.suffix.lower() in VIDEO_SUFFIXES


def videos_in_folder(folder: Path) -> list[Path]:
    """Every video under `folder` (recursively, hidden folders left out), sorted by path."""
    found = []
    for path in folder.rglob("*"):
        rel = path.relative_to(folder).parts
        if any(p.startswith(".") for p in rel) or not is_video(path) or not path.is_file():
            continue
        found.append(path)
    return sorted(found)


def _list_entries(path: Path) -> Iterable[tuple[int, str]]:
    """``(line number, entry)`` of a list file."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    if path.suffix.lower() == ".txt":
        for number, line in enumerate(text.splitlines(), 1):
            entry = line.strip()
            if entry and not entry.startswith("#"):
                yield number, entry
        return
    rows = list(csv.reader(text.splitlines()))
    if not rows:
        return
    header = [c.strip().lower() for c in rows[0]]
    column = next((header.index(c) for c in CSV_COLUMNS if c in header), None)
    if column is None:
        raise VideoError(
            f"{path}: no column named {' or '.join(CSV_COLUMNS)} in the header {rows[0]}"
        )
    for number, row in enumerate(rows[1:], 2):
        entry = row[column].strip() if column < len(row) else ""
        if entry and not entry.startswith("#"):
            yield number, entry


def _expand(path: Path, where: str) -> list[Path]:
    """The videos `path` stands for (a video or a folder); `where` names its origin."""
    if path.is_dir():
        return videos_in_folder(path)
    if path.is_file() and is_video(path):
        return [path]
    if not path.exists():
        raise VideoError(f"{where}{path}: no such video, folder or list")
    raise VideoError(
        f"{where}{path}: not a video ({', '.join(VIDEO_SUFFIXES)}), a folder, or a list "
        f"({', '.join(LIST_SUFFIXES)})"
    )


def find_videos(inputs: Sequence[str | Path]) -> list[Path]:
    """The videos that `inputs` name, absolute, in the order given (folders sorted).

    Raises VideoError naming the input (and the list file and line) that is missing
    or not a video, and when nothing is found at all.
    """
    out: dict[Path, None] = {}
    for item in inputs:
        path = Path(item).expanduser()
        if path.is_file() and path.suffix.lower() in LIST_SUFFIXES:
            for number, entry in _list_entries(path):
                target = Path(entry).expanduser()
                if not target.is_absolute():
                    target = path.parent / target
                for video in _expand(target, f"{path}:{number}: "):
                    out.setdefault(video.resolve())
            continue
        found = _expand(path, "")
        if not found:
            raise VideoError(f"{path}: no videos in this folder ({', '.join(VIDEO_SUFFIXES)})")
        for video in found:
            out.setdefault(video.resolve())
    if not out:
        raise VideoError(f"no videos in {', '.join(str(i) for i in inputs) or 'the input'}")
    return list(out)

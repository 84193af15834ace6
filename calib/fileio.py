"""Reading settings files with one-line errors, and images only when they are whole;
writing files so that a crash never leaves a half-written one behind."""

from __future__ import annotations

import contextlib
import os
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import yaml

from calib.errors import ConfigError, PoseloopError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


def read_mapping(path: str | os.PathLike, error: type[PoseloopError] = ConfigError,
                 missing: str = "no such file") -> dict[str, Any]:
    """The mapping in the YAML (``.yaml``/``.yml``) or TOML (any other suffix) file `path`.

    An empty YAML file is an empty mapping. Every failure (no file, unreadable, not valid
    YAML/TOML, not a mapping) raises one `error` whose message starts with the path;
    `missing` says what a user should know when the file does not exist.
    """
    path = Path(path)
    if not path.is_file():
        raise error(f"{path}: {missing}")
    try:
        text = path.read_text()
    except (OSError, UnicodeDecodeError) as exc:
        raise error(f"{path}: cannot be read ({exc})") from exc
    if path.suffix.lower() in (".yaml", ".yml"):
        try:
            data = yaml.safe_load(text)
        except yaml.YAMLError as exc:
            raise error(f"{path}: not valid YAML ({exc})") from exc
        data = {} if data is None else data
    else:
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise error(f"{path}: not valid TOML ({exc})") from exc
    if not isinstance(data, dict):
        raise error(f"{path}: expected a mapping, found {type(data).__name__}")
    return data


JPEG_SCAN, JPEG_END = b"\xff\xda", b"\xff\xd9"  # markers: start of scan, end of image


def read_image(path: str | os.PathLike, color: bool = True) -> np.ndarray | None:
    """The image at `path` (BGR, or grayscale unless `color`); None if it is missing, not
    an image OpenCV can decode, or a JPEG cut off before its end, which OpenCV would decode
    without a word, gray where the data stopped (a copy interrupted, a full disk; OpenCV
    itself refuses a PNG cut off)."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return None
    if cut_off(data):
        return None
    return cv2.imdecode(np.frombuffer(data, np.uint8),
                        cv2.IMREAD_COLOR if color else cv2.IMREAD_GRAYSCALE)


def cut_off(data: bytes) -> bool:
    """Whether the JPEG in `data` ends before its end marker (not a JPEG: False)."""
    if not data.startswith(b"\xff\xd8"):
        return False
    # entropy-coded data stuffs every 0xff byte, so no marker can hide in it: the end
    # marker must follow the last scan (bytes a camera appends after it are allowed)
    return data.find(JPEG_END, max(data.rfind(JPEG_SCAN), 0)) < 0


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike) -> Iterator[Path]:
    """Yield a temporary path beside `path`; on success it replaces `path` in one rename.

    On an exception the temporary file is removed and `path` is left as it was.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(
        prefix=f".{path.name}.", suffix=".tmp" + path.suffix, dir=path.parent
    )
    os.close(fd)
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        # mkstemp creates 0600 files; give the result the mode a plain open() would.
        os.chmod(tmp_path, 0o666 & ~_umask())
        os.replace(tmp_path, path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()


def check_writable(folder: str | os.PathLike) -> Path:
    """Create `folder` if needed and show that a file can be written in it, by writing and
    removing one; OSError (from the OS, naming the cause) if not."""
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    fd, probe = tempfile.mkstemp(prefix=".poseloop-probe-", dir=folder)
    os.close(fd)
    os.unlink(probe)
    return folder

"""Opening a ``torch.export`` archive (``.pt2``) without running anything in it.

``torch.export.load`` unpickles, with ``weights_only=False``, every weight or constant
that the archive's JSON configs mark ``use_pickle: true``, retries its sample inputs with
the unrestricted unpickler when the safe one refuses them, and loads ahead-of-time
compiled libraries it finds. A poseloop model needs none of that: a graph in JSON, raw
tensor bytes and ``poseloop.json``. :func:`checked_archive` reads only the archive's
directory and JSON configs, refuses any other entry or any pickled payload, and returns
an in-memory copy with the sample inputs emptied, so torch has nothing left to unpickle.
"""

from __future__ import annotations

import io
import json
import re
import zipfile
from pathlib import Path

from calib.errors import ModelError

# Entries a torch.export archive of one program named "model" holds, below its root folder.
_FIXED = {
    "archive_format", "archive_version", "byteorder", ".data/version",
    ".data/serialization_id", "models/model.json", "data/sample_inputs/model.pt",
}
WEIGHTS_CONFIG = "data/weights/model_weights_config.json"
CONSTANTS_CONFIG = "data/constants/model_constants_config.json"
_PAYLOAD = {
    WEIGHTS_CONFIG: ("data/weights/", re.compile(r"weight_\d+")),
    CONSTANTS_CONFIG: ("data/constants/", re.compile(r"tensor_\d+")),
}
SAMPLE_INPUTS = "data/sample_inputs/model.pt"


def checked_archive(path: Path, extra: set[str]) -> io.BytesIO:
    """The archive at `path` as a buffer for ``torch.export.load``, once checked.

    `extra` names the ``extra/`` files the caller expects (and allows). Raises
    :class:`ModelError` naming `path` and the offending entry for anything that could
    make torch run code: a pickled weight or constant, an entry outside the list above
    (legacy pickled state dicts, compiled libraries, custom objects), a compressed entry.
    """
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            root = _root(path, infos)
            names = {info.filename[len(root):]: info for info in infos}
            allowed = _FIXED | {WEIGHTS_CONFIG, CONSTANTS_CONFIG} | {f"extra/{n}" for n in extra}
            for config_name, (folder, pattern) in _PAYLOAD.items():
                if config_name in names:
                    allowed |= _payload_files(path, zf.read(names[config_name]), config_name,
                                              folder, pattern)
            for name, info in names.items():
                if name not in allowed:
                    raise ModelError(f"{path}: unexpected entry {name!r} in the model archive "
                                     "(a poseloop model holds a graph, raw weights and "
                                     "poseloop.json only)")
                if info.compress_type != zipfile.ZIP_STORED:
                    raise ModelError(f"{path}: entry {name!r} is compressed (torch writes "
                                     "model archives uncompressed)")
            out = io.BytesIO()
            with zipfile.ZipFile(out, "w", zipfile.ZIP_STORED) as copy:
                for name, info in names.items():
                    # the sample inputs are a pickle and the runtime never uses them
                    data = b"" if name == SAMPLE_INPUTS else zf.read(info)
                    copy.writestr(info.filename, data)
    except (zipfile.BadZipFile, OSError, EOFError) as exc:
        raise ModelError(f"{path}: not a poseloop model (truncated or wrong file: {exc})") from exc
    out.seek(0)
    return out


def _root(path: Path, infos: list[zipfile.ZipInfo]) -> str:
    roots = {info.filename.split("/", 1)[0] for info in infos}
    if len(roots) != 1 or any("/" not in info.filename for info in infos):
        raise ModelError(f"{path}: not a torch.export archive (entries outside one root folder)")
    return roots.pop() + "/"


def _payload_files(path: Path, raw: bytes, config_name: str, folder: str,
                   pattern: re.Pattern) -> set[str]:
    """The payload files that `config_name` lists, once each is shown to be raw bytes."""
    try:
        entries = json.loads(raw)["config"]
        items = list(entries.items())
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ModelError(f"{path}: {config_name} is not a payload config ({exc})") from exc
    files = set()
    for key, meta in items:
        if not isinstance(meta, dict):
            raise ModelError(f"{path}: {config_name}: entry {key!r} is not a map")
        if meta.get("use_pickle") is not False:
            raise ModelError(f"{path}: {config_name}: {key!r} is stored as a pickle; "
                             "poseloop loads raw tensors only")
        name = meta.get("path_name")
        if not isinstance(name, str) or not pattern.fullmatch(name):
            raise ModelError(f"{path}: {config_name}: {key!r} has payload {name!r}, "
                             f"expected {pattern.pattern}")
        if not isinstance(meta.get("tensor_meta"), dict):
            raise ModelError(f"{path}: {config_name}: {key!r} has no tensor_meta")
        files.add(folder + name)
    return files

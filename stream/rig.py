"""A rig: the process graph of the runtime, read from TOML into plain dataclasses.

Example (see ``examples/rig_two_cameras.toml``)::

    mode = "live"                 # or "batch": lossless, ordered, with backpressure
    host = "127.0.0.1"            # where endpoints bind unless a node names its own

    [[source]]
    name = "cam0"
    kind = "synthetic"            # video | images | camera | synthetic
    fps = 30

    [[inference]]
    name = "pose"
    model = "model.pt2"
    inputs = ["cam0"]

    [[recorder]]
    name = "rec"
    inputs = ["pose"]
    folder = "recording"

Relative paths are taken from the rig file's folder. Every error names the file and
the field.
"""

from __future__ import annotations

import socket
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from train.errors import ConfigError

SOURCE_KINDS = ("video", "images", "camera", "synthetic", "playlist")
MODES = ("live", "batch")


@dataclass
class SourceSpec:
    name: str
    kind: str
    path: str = ""  # video file, image folder, or camera index / URL
    camera: str = ""  # stream name; default: the node name
    fps: float = 0.0  # pace frames like a camera (0: as fast as they come)
    max_frames: int = 0  # 0: all
    width: int = 320  # synthetic only
    height: int = 240
    seed: int = 0
    endpoint: str = ""
    mode: str = "batch"
    playlist: list[list[str]] = field(default_factory=list)  # [[camera, video], ...]

    @property
    def cameras(self) -> list[str]:
        return [c for c, _ in self.playlist] if self.kind == "playlist" else [self.camera]


@dataclass
class InferenceSpec:
    name: str
    model: str
    inputs: list[str]
    device: str = "cpu"
    batch_size: int = 8
    max_wait_ms: float = 10.0
    threads: int = 0  # torch threads (0: torch's default)
    amp: bool = False  # float16 autocast and channels_last (CUDA only)
    endpoint: str = ""
    mode: str = "batch"
    input_endpoints: list[str] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)


@dataclass
class RecorderSpec:
    name: str
    inputs: list[str]
    folder: str = "recording"
    csv: bool = False
    tables: bool = True  # write DeepLabCut analysis tables on close
    flush_s: float = 0.5
    input_endpoints: list[str] = field(default_factory=list)
    cameras: list[str] = field(default_factory=list)
    # camera -> [video (or camera name), folder]: its table is analysis_path(video, scorer, folder)
    table_paths: dict[str, list[str]] = field(default_factory=dict)


@dataclass
class Rig:
    path: Path
    mode: str
    sources: list[SourceSpec]
    inference: list[InferenceSpec]
    recorders: list[RecorderSpec]
    host: str = "127.0.0.1"
    bus: str = ""
    stats_interval: float = 1.0

    def nodes(self) -> list[tuple[str, object]]:
        """``[(role, spec)]`` in start order (consumers first, so nothing waits on them)."""
        return (
            [("recorder", r) for r in self.recorders]
            + [("inference", i) for i in self.inference]
            + [("source", s) for s in self.sources]
        )


def free_endpoint(host: str = "127.0.0.1") -> str:
    """A tcp endpoint on `host` with a port that is free right now."""
    with socket.socket() as s:
        s.bind((host, 0))
        return f"tcp://{host}:{s.getsockname()[1]}"


def _check_type(where: str, key: str, value, expected) -> None:
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
    }.get(expected, True)
    if not ok:
        raise ConfigError(f"{where}: field {key!r} must be {expected}, got {value!r}")


def _build(cls, table: dict, where: str, skip: tuple[str, ...]):
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table, got {table!r}")
    known = {f.name: f for f in fields(cls) if f.name not in skip}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    for f in known.values():
        if f.name in table:
            _check_type(where, f.name, table[f.name], f.type)
    missing = [
        n
        for n, f in known.items()
        if n not in table and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {missing}")
    return cls(**table)


def _positive(where: str, key: str, value: float, zero_ok: bool = False) -> None:
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(
            f"{where}: field {key!r} must be {'>= 0' if zero_ok else '> 0'}, got {value}"
        )


def load_rig(path: str | Path) -> Rig:
    """Read and validate a rig TOML file; endpoints are resolved (free loopback ports)."""
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib

    path = Path(path)
    if not path.exists():
        raise ConfigError(f"{path}: no such rig file")
    try:
        doc = tomllib.loads(path.read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML ({exc})") from exc
    top = {"mode", "host", "stats_interval", "source", "inference", "recorder"}
    unknown = sorted(set(doc) - top)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; known: {sorted(top)}")
    mode = doc.get("mode", "live")
    if mode not in MODES:
        raise ConfigError(f"{path}: field 'mode' must be one of {MODES}, got {mode!r}")
    host = doc.get("host", "127.0.0.1")
    _check_type(str(path), "host", host, "str")
    interval = doc.get("stats_interval", 1.0)
    _check_type(str(path), "stats_interval", interval, "float")
    _positive(str(path), "stats_interval", interval)
    base = path.parent

    def tables(key: str) -> list[dict]:
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{path}: [[{key}]] must be an array of tables")
        return value

    sources = [
        _build(SourceSpec, t, f"{path}: source[{i}]", ("mode", "playlist"))
        for i, t in enumerate(tables("source"))
    ]
    infer = [
        _build(InferenceSpec, t, f"{path}: inference[{i}]", ("mode", "input_endpoints", "cameras"))
        for i, t in enumerate(tables("inference"))
    ]
    recs = [
        _build(
            RecorderSpec, t, f"{path}: recorder[{i}]", ("input_endpoints", "cameras", "table_paths")
        )
        for i, t in enumerate(tables("recorder"))
    ]
    rig = Rig(path, mode, sources, infer, recs, host, stats_interval=float(interval))
    _resolve(rig, base)
    return rig


def _resolve(rig: Rig, base: Path) -> None:
    """Check names and links, make paths absolute, give every output an endpoint."""
    where = str(rig.path)
    if not rig.sources or not rig.inference:
        raise ConfigError(f"{where}: a rig needs at least one [[source]] and one [[inference]]")
    names = (
        [s.name for s in rig.sources]
        + [i.name for i in rig.inference]
        + [r.name for r in rig.recorders]
    )
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{where}: node names must be unique, repeated: {dup}")
    by_name = {s.name: s for s in rig.sources}
    for i, s in enumerate(rig.sources):
        w = f"{where}: source[{i}] ({s.name})"
        if s.kind not in SOURCE_KINDS[:-1]:
            raise ConfigError(
                f"{w}: field 'kind' must be one of {SOURCE_KINDS[:-1]}, got {s.kind!r}"
            )
        if s.kind in ("video", "images", "camera") and not s.path:
            raise ConfigError(f"{w}: field 'path' is required for kind {s.kind!r}")
        if s.kind in ("video", "images"):
            s.path = str((base / s.path).resolve())
            if not Path(s.path).exists():
                raise ConfigError(f"{w}: field 'path': no such file or folder {s.path}")
        _positive(w, "fps", s.fps, zero_ok=True)
        _positive(w, "max_frames", s.max_frames, zero_ok=True)
        s.camera = s.camera or s.name
        s.mode = rig.mode
        s.endpoint = s.endpoint or free_endpoint(rig.host)
    cameras = [c for s in rig.sources for c in s.cameras]
    if len(set(cameras)) != len(cameras):
        raise ConfigError(f"{where}: camera names must be unique, got {cameras}")
    infer_by_name = {i.name: i for i in rig.inference}
    for i, inf in enumerate(rig.inference):
        w = f"{where}: inference[{i}] ({inf.name})"
        bad = [n for n in inf.inputs if n not in by_name]
        if bad or not inf.inputs:
            raise ConfigError(
                f"{w}: field 'inputs' must name sources {sorted(by_name)}, got {inf.inputs}"
            )
        model = (base / inf.model).resolve()
        if not model.exists():
            raise ConfigError(f"{w}: field 'model': no such file {model}")
        inf.model = str(model)
        _positive(w, "batch_size", inf.batch_size)
        _positive(w, "max_wait_ms", inf.max_wait_ms, zero_ok=True)
        inf.mode = rig.mode
        inf.endpoint = inf.endpoint or free_endpoint(rig.host)
        inf.input_endpoints = [by_name[n].endpoint for n in inf.inputs]
        inf.cameras = [c for n in inf.inputs for c in by_name[n].cameras]
    for i, rec in enumerate(rig.recorders):
        w = f"{where}: recorder[{i}] ({rec.name})"
        bad = [n for n in rec.inputs if n not in infer_by_name]
        if bad or not rec.inputs:
            raise ConfigError(
                f"{w}: field 'inputs' must name inference nodes {sorted(infer_by_name)}, "
                f"got {rec.inputs}"
            )
        _positive(w, "flush_s", rec.flush_s)
        rec.folder = str((base / rec.folder).resolve())
        rec.input_endpoints = [infer_by_name[n].endpoint for n in rec.inputs]
        rec.cameras = [c for n in rec.inputs for c in infer_by_name[n].cameras]
        for s in rig.sources:
            if s.camera in rec.cameras:
                video = s.path if s.kind == "video" else s.camera
                rec.table_paths[s.camera] = [video, rec.folder]
    _one_consumer_each(rig)
    rig.bus = rig.bus or free_endpoint("127.0.0.1")


def _one_consumer_each(rig: Rig) -> None:
    """Every output feeds exactly one node: a PUSH socket deals messages out in turn, so
    two consumers would each get half a stream, and none would stall the producer."""
    links = [
        ("source", s.name, [i.name for i in rig.inference if s.name in i.inputs], "inference")
        for s in rig.sources
    ]
    links += [
        ("inference", i.name, [r.name for r in rig.recorders if i.name in r.inputs], "recorder")
        for i in rig.inference
    ]
    for role, name, consumers, what in links:
        if len(consumers) != 1:
            raise ConfigError(
                f"{rig.path}: {role} {name!r} must be in the 'inputs' of exactly one {what}, "
                f"found {consumers or 'none'}"
            )

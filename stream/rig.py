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

Multi-camera 3D adds ``[[sync]]`` (poses of one instant from several cameras) and
``[[triangulate]]`` (synced groups + calibration -> 3D poses); a recorder may record
those too (see ``examples/rig_3d.toml``). ``[[viewer]]`` shows frames and poses live.

Links: in batch mode every output feeds exactly one consumer (PUSH/PULL: lossless,
with backpressure); in live mode outputs past the sources are published (PUB/SUB) so
recorders, sync nodes and viewers can all read the same poses, and a slow reader
drops messages instead of holding up the pipeline.

Relative paths are taken from the rig file's folder. Every error names the file and
the field.
"""

from __future__ import annotations

import socket
from dataclasses import MISSING, dataclass, field, fields
from pathlib import Path

from calib.errors import ConfigError
from calib.fileio import check_writable

SOURCE_KINDS = ("video", "images", "camera", "synthetic", "playlist")
MODES = ("live", "batch")
SYNC_BY = ("index", "timestamp")


def _derived(default=""):
    """A field that load_rig derives from the links; a rig file may not set it."""
    if isinstance(default, list | dict):
        return field(default_factory=type(default), metadata={"derived": True})
    return field(default=default, metadata={"derived": True})


@dataclass(kw_only=True)
class _Reader:
    """What load_rig sets on every node that reads other nodes' outputs."""

    mode: str = _derived("batch")
    input_endpoints: list[str] = _derived([])
    cameras: list[str] = _derived([])  # every camera (or 3D stream) that reaches the node


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
    mode: str = _derived("batch")
    playlist: list[list[str]] = _derived([])  # [[camera, video], ...]
    preview_endpoint: str = _derived()  # live: frames also published here for viewers

    @property
    def cameras(self) -> list[str]:
        return [c for c, _ in self.playlist] if self.kind == "playlist" else [self.camera]


@dataclass
class InferenceSpec(_Reader):
    name: str
    model: str
    inputs: list[str]
    device: str = "cpu"
    batch_size: int = 8
    max_wait_ms: float = 10.0
    threads: int = 0  # torch threads (0: torch's default)
    amp: bool = False  # float16 autocast and channels_last (CUDA only)
    endpoint: str = ""


@dataclass
class RecorderSpec(_Reader):
    name: str
    inputs: list[str]
    folder: str = "recording"
    csv: bool = False
    tables: bool = True  # write DeepLabCut analysis tables on close
    flush_s: float = 0.5
    # camera -> [video (or camera name), folder]: its table is analysis_path(video, scorer, folder)
    table_paths: dict[str, list[str]] = _derived({})


@dataclass
class SyncSpec(_Reader):
    name: str
    inputs: list[str]  # inference nodes
    by: str = "index"  # "index": hardware frame index; "timestamp": capture stamps
    tolerance_ms: float = 5.0  # timestamp: stamps of one instant differ by at most this
    max_wait_ms: float = 100.0  # live: a group waits at most this long for late cameras
    max_pending: int = 64  # groups held at most (the oldest goes out, partial, beyond)
    endpoint: str = ""


@dataclass
class TriangulateSpec(_Reader):
    name: str
    inputs: list[str]  # one sync node
    calibration: str  # calibration TOML (anipose layout)
    pcutoff: float = 0.6  # views with a lower likelihood are left out
    robust: bool = False  # leave out views that disagree with the best pair of views
    threshold_px: float = 10.0  # robust: reprojection error that makes a view an outlier
    calib_cameras: list[str] = field(default_factory=list)  # calibration names, in camera order
    endpoint: str = ""


@dataclass
class ViewerSpec(_Reader):
    name: str
    inputs: list[str]  # inference nodes
    skeleton: list[list[str]] = field(default_factory=list)  # default: the model's
    pcutoff: float = 0.1  # skeleton edges only between points at least this likely
    refresh_hz: float = 30.0
    models: list[str] = _derived([])  # for the default skeleton


@dataclass
class Rig:
    path: Path
    mode: str
    sources: list[SourceSpec]
    inference: list[InferenceSpec]
    recorders: list[RecorderSpec]
    host: str = "127.0.0.1"
    supervisor_endpoint: str = ""  # where the supervisor collects stats, logs and ends
    stats_interval: float = 1.0
    syncs: list[SyncSpec] = field(default_factory=list)
    triangulates: list[TriangulateSpec] = field(default_factory=list)
    viewers: list[ViewerSpec] = field(default_factory=list)

    def nodes(self) -> list[tuple[str, object]]:
        """``[(role, spec)]`` in start order (consumers first, so nothing waits on them)."""
        return (
            [("recorder", r) for r in self.recorders]
            + [("viewer", v) for v in self.viewers]
            + [("triangulate", t) for t in self.triangulates]
            + [("sync", s) for s in self.syncs]
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


def _build(cls, table: dict, where: str):
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table, got {table!r}")
    known = {f.name: f for f in fields(cls) if not f.metadata.get("derived")}
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
    top = {"mode", "host", "stats_interval", "source", "inference", "recorder", "sync",
           "triangulate", "viewer"}
    unknown = sorted(set(doc) - top)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; known: {sorted(top)}")
    mode = doc.get("mode", "live")
    if mode not in MODES:
        raise ConfigError(f"{path}: field 'mode' must be one of {MODES}, got {mode!r}")
    host = doc.get("host", "127.0.0.1")
    _check_type(str(path), "host", host, "str")
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as exc:  # gaierror is an OSError
        raise ConfigError(f"{path}: field 'host': cannot resolve {host!r} ({exc})") from exc
    interval = doc.get("stats_interval", 1.0)
    _check_type(str(path), "stats_interval", interval, "float")
    _positive(str(path), "stats_interval", interval)
    base = path.parent

    def specs(cls, key: str) -> list:
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{path}: [[{key}]] must be an array of tables")
        return [_build(cls, t, f"{path}: {key}[{i}]") for i, t in enumerate(value)]

    rig = Rig(path, mode, specs(SourceSpec, "source"), specs(InferenceSpec, "inference"),
              specs(RecorderSpec, "recorder"), host, stats_interval=float(interval),
              syncs=specs(SyncSpec, "sync"), triangulates=specs(TriangulateSpec, "triangulate"),
              viewers=specs(ViewerSpec, "viewer"))
    _resolve(rig, base)
    return rig


def _resolve(rig: Rig, base: Path) -> None:
    """Check names and links, make paths absolute, give every output an endpoint."""
    where = str(rig.path)
    if not rig.sources or not rig.inference:
        raise ConfigError(f"{where}: a rig needs at least one [[source]] and one [[inference]]")
    names = [spec.name for _, spec in rig.nodes()]
    dup = sorted({n for n in names if names.count(n) > 1})
    if dup:
        raise ConfigError(f"{where}: node names must be unique, repeated: {dup}")
    _resolve_sources(rig, base)
    by_name = {s.name: s for s in rig.sources}
    for i, inf in enumerate(rig.inference):
        w = f"{where}: inference[{i}] ({inf.name})"
        _inputs(w, inf.inputs, by_name, "sources")
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
    _resolve_3d(rig, base)
    _resolve_recorders(rig, base)
    _resolve_viewers(rig)
    _check_links(rig)
    rig.supervisor_endpoint = rig.supervisor_endpoint or free_endpoint("127.0.0.1")


def _inputs(where: str, inputs: list[str], allowed: dict, what: str) -> None:
    bad = [n for n in inputs if n not in allowed]
    if bad or not inputs:
        raise ConfigError(
            f"{where}: field 'inputs' must name {what} {sorted(allowed)}, got {inputs}"
        )


def _resolve_sources(rig: Rig, base: Path) -> None:
    where = str(rig.path)
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


def _resolve_3d(rig: Rig, base: Path) -> None:
    """Sync nodes read inference nodes; triangulation nodes read one sync node each and
    need a calibration that knows every camera of it."""
    from calib.calibration import load_calibration

    where = str(rig.path)
    infer_by_name = {i.name: i for i in rig.inference}
    for i, sync in enumerate(rig.syncs):
        w = f"{where}: sync[{i}] ({sync.name})"
        _inputs(w, sync.inputs, infer_by_name, "inference nodes")
        if sync.by not in SYNC_BY:
            raise ConfigError(f"{w}: field 'by' must be one of {SYNC_BY}, got {sync.by!r}")
        _positive(w, "tolerance_ms", sync.tolerance_ms, zero_ok=True)
        _positive(w, "max_wait_ms", sync.max_wait_ms)
        _positive(w, "max_pending", sync.max_pending)
        sync.mode = rig.mode
        sync.endpoint = sync.endpoint or free_endpoint(rig.host)
        sync.input_endpoints = [infer_by_name[n].endpoint for n in sync.inputs]
        sync.cameras = [c for n in sync.inputs for c in infer_by_name[n].cameras]
        if len(sync.cameras) < 2:
            raise ConfigError(
                f"{w}: field 'inputs' must bring at least 2 cameras, got {sync.cameras}"
            )
    sync_by_name = {s.name: s for s in rig.syncs}
    for i, tri in enumerate(rig.triangulates):
        w = f"{where}: triangulate[{i}] ({tri.name})"
        _inputs(w, tri.inputs, sync_by_name, "sync nodes")
        if len(tri.inputs) != 1:
            raise ConfigError(f"{w}: field 'inputs' must name exactly one sync node")
        sync = sync_by_name[tri.inputs[0]]
        if not 0 <= tri.pcutoff <= 1:
            raise ConfigError(f"{w}: field 'pcutoff' must be in [0, 1], got {tri.pcutoff}")
        _positive(w, "threshold_px", tri.threshold_px)
        tri.calibration = str((base / tri.calibration).resolve())
        if not Path(tri.calibration).is_file():
            raise ConfigError(f"{w}: field 'calibration': no such file {tri.calibration}")
        calibration = load_calibration(tri.calibration)
        names = tri.calib_cameras or sync.cameras
        if len(names) != len(sync.cameras):
            raise ConfigError(
                f"{w}: field 'calib_cameras' must name one calibrated camera per camera of "
                f"{sync.name} {sync.cameras}, got {names}"
            )
        absent = [n for n in names if n not in calibration.names]
        if absent:
            field_name = "calib_cameras" if tri.calib_cameras else "calibration"
            raise ConfigError(
                f"{w}: field {field_name!r}: camera(s) {absent} not in {tri.calibration} "
                f"(it has {calibration.names}); map them with 'calib_cameras'"
            )
        tri.calib_cameras = list(names)
        tri.mode = rig.mode
        tri.endpoint = tri.endpoint or free_endpoint(rig.host)
        tri.input_endpoints = [sync.endpoint]
        tri.cameras = list(sync.cameras)


def _resolve_recorders(rig: Rig, base: Path) -> None:
    where = str(rig.path)
    producers = {i.name: i for i in rig.inference} | {t.name: t for t in rig.triangulates}
    folders: dict[str, str] = {}
    for i, rec in enumerate(rig.recorders):
        w = f"{where}: recorder[{i}] ({rec.name})"
        _inputs(w, rec.inputs, producers, "inference or triangulate nodes")
        _positive(w, "flush_s", rec.flush_s)
        rec.mode = rig.mode
        rec.folder = str((base / rec.folder).resolve())
        if rec.folder in folders:
            raise ConfigError(f"{w}: field 'folder': {rec.folder} is also the folder of recorder "
                              f"{folders[rec.folder]!r}; two recorders there would write over "
                              "each other's files")
        folders[rec.folder] = rec.name
        try:
            check_writable(rec.folder)
        except OSError as exc:
            raise ConfigError(f"{w}: field 'folder': cannot create or write {rec.folder} "
                              f"({exc.strerror or exc})") from exc
        rec.input_endpoints = [producers[n].endpoint for n in rec.inputs]
        rec.cameras = []
        for n in rec.inputs:
            if isinstance(producers[n], TriangulateSpec):
                rec.cameras.append(n)  # a 3D stream is named after its triangulation node
            else:
                rec.cameras += producers[n].cameras
        for s in rig.sources:
            if s.camera in rec.cameras:
                video = s.path if s.kind == "video" else s.camera
                rec.table_paths[s.camera] = [video, rec.folder]
        from stream.recording import recordings_in  # it imports this module

        earlier = recordings_in(rec.folder, rec.cameras)  # a rerun never overwrites one
        if earlier:
            raise ConfigError(f"{w}: field 'folder': {earlier[0]} holds the recording of an "
                              "earlier run, and recordings are never overwritten (move it, or "
                              "choose another folder)")


def _resolve_viewers(rig: Rig) -> None:
    where = str(rig.path)
    infer_by_name = {i.name: i for i in rig.inference}
    by_name = {s.name: s for s in rig.sources}
    for i, view in enumerate(rig.viewers):
        w = f"{where}: viewer[{i}] ({view.name})"
        if rig.mode != "live":
            raise ConfigError(f"{w}: a viewer needs mode = \"live\" (batch links are lossless)")
        _inputs(w, view.inputs, infer_by_name, "inference nodes")
        _positive(w, "refresh_hz", view.refresh_hz)
        if not 0 <= view.pcutoff <= 1:
            raise ConfigError(f"{w}: field 'pcutoff' must be in [0, 1], got {view.pcutoff}")
        view.mode = rig.mode
        view.input_endpoints = [infer_by_name[n].endpoint for n in view.inputs]
        view.cameras = [c for n in view.inputs for c in infer_by_name[n].cameras]
        view.models = [infer_by_name[n].model for n in view.inputs]
        for n in view.inputs:
            for src in infer_by_name[n].inputs:
                s = by_name[src]
                s.preview_endpoint = s.preview_endpoint or free_endpoint(rig.host)
                view.input_endpoints.append(s.preview_endpoint)


def _check_links(rig: Rig) -> None:
    """Sources feed exactly one inference node (a PUSH socket deals messages out in turn,
    so two consumers would each get half a stream). Past the sources, batch links are
    PUSH/PULL too, so again exactly one consumer; live links are PUB/SUB, so any number
    of consumers, but at least one (an output nobody reads is a mistake in the file)."""
    batch = rig.mode == "batch"
    links = [
        ("source", s.name, [i.name for i in rig.inference if s.name in i.inputs], "inference", True)
        for s in rig.sources
    ]
    pose_readers = rig.recorders + rig.syncs + rig.viewers
    links += [
        ("inference", i.name, [r.name for r in pose_readers if i.name in r.inputs],
         "recorder or sync", batch)
        for i in rig.inference
    ]
    links += [
        ("sync", s.name, [t.name for t in rig.triangulates if s.name in t.inputs], "triangulate",
         batch)
        for s in rig.syncs
    ]
    links += [
        ("triangulate", t.name, [r.name for r in rig.recorders if t.name in r.inputs],
         "recorder", batch)
        for t in rig.triangulates
    ]
    for role, name, consumers, what, exactly_one in links:
        if exactly_one and len(consumers) != 1:
            why = " (batch mode: lossless PUSH/PULL links)" if role != "source" else ""
            raise ConfigError(
                f"{rig.path}: {role} {name!r} must be in the 'inputs' of exactly one {what}"
                f"{why}, found {consumers or 'none'}"
            )
        if not consumers:
            raise ConfigError(
                f"{rig.path}: {role} {name!r} must be in the 'inputs' of at least one {what}"
            )


def add_viewer(rig: Rig, name: str = "view", pcutoff: float = 0.1) -> ViewerSpec:
    """A viewer of every inference node of a loaded `rig` (live mode only), with the
    sources' frame previews turned on; the caller runs it (e.g. in its own window)."""
    spec = ViewerSpec(name, [i.name for i in rig.inference], pcutoff=pcutoff)
    rig.viewers.append(spec)
    try:
        _resolve_viewers(rig)
    except ConfigError:
        rig.viewers.remove(spec)
        raise
    return spec

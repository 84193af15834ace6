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
import time
from dataclasses import dataclass, field
from pathlib import Path

from calib.errors import ConfigError
from calib.fileio import check_writable
from stream.node_specs import (
    CODECS,
    MODES,
    SOURCE_KINDS,
    SYNC_BY,
    InferenceSpec,
    ProcessorSpec,
    RecorderSpec,
    SourceSpec,
    SyncSpec,
    TriangulateSpec,
    VideoSpec,
    ViewerSpec,
    build_spec,
    check_type,
    positive,
)


@dataclass
class Rig:
    path: Path
    mode: str
    sources: list[SourceSpec]
    inference: list[InferenceSpec]
    recorders: list[RecorderSpec]
    host: str = "127.0.0.1"
    supervisor_endpoint: str = ""  # where the supervisor collects stats, logs and ends
    stats_endpoint: str = ""  # where the supervisor republishes the stats (with viewers)
    stats_interval: float = 1.0
    syncs: list[SyncSpec] = field(default_factory=list)
    triangulates: list[TriangulateSpec] = field(default_factory=list)
    viewers: list[ViewerSpec] = field(default_factory=list)
    videos: list[VideoSpec] = field(default_factory=list)
    processors: list[ProcessorSpec] = field(default_factory=list)
    duration_s: float = 0.0  # live: stop the sources after this long (0: when input ends)

    def nodes(self) -> list[tuple[str, object]]:
        """``[(role, spec)]`` in start order (consumers first, so nothing waits on them)."""
        return (
            [("recorder", r) for r in self.recorders]
            + [("video", v) for v in self.videos]
            + [("processor", p) for p in self.processors]
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
    top = {"mode", "host", "stats_interval", "duration", "source", "inference", "recorder",
           "sync", "triangulate", "viewer", "video", "processor"}
    unknown = sorted(set(doc) - top)
    if unknown:
        raise ConfigError(f"{path}: unknown field(s) {unknown}; known: {sorted(top)}")
    mode = doc.get("mode", "live")
    if mode not in MODES:
        raise ConfigError(f"{path}: field 'mode' must be one of {MODES}, got {mode!r}")
    host = doc.get("host", "127.0.0.1")
    check_type(str(path), "host", host, "str")
    try:
        socket.getaddrinfo(host, None)
    except (OSError, UnicodeError) as exc:  # gaierror is an OSError
        raise ConfigError(f"{path}: field 'host': cannot resolve {host!r} ({exc})") from exc
    interval = doc.get("stats_interval", 1.0)
    check_type(str(path), "stats_interval", interval, "float")
    positive(str(path), "stats_interval", interval)
    duration = doc.get("duration", 0.0)
    check_type(str(path), "duration", duration, "float")
    positive(str(path), "duration", duration, zero_ok=True)
    base = path.parent

    def specs(cls, key: str) -> list:
        value = doc.get(key, [])
        if not isinstance(value, list):
            raise ConfigError(f"{path}: [[{key}]] must be an array of tables")
        return [build_spec(cls, t, f"{path}: {key}[{i}]") for i, t in enumerate(value)]

    rig = Rig(path, mode, specs(SourceSpec, "source"), specs(InferenceSpec, "inference"),
              specs(RecorderSpec, "recorder"), host, stats_interval=float(interval),
              syncs=specs(SyncSpec, "sync"), triangulates=specs(TriangulateSpec, "triangulate"),
              viewers=specs(ViewerSpec, "viewer"), videos=specs(VideoSpec, "video"),
              processors=specs(ProcessorSpec, "processor"), duration_s=float(duration))
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
        positive(w, "batch_size", inf.batch_size)
        positive(w, "max_wait_ms", inf.max_wait_ms, zero_ok=True)
        from train.model.artifact import BACKENDS

        if inf.backend not in BACKENDS:
            raise ConfigError(
                f"{w}: field 'backend' must be one of {BACKENDS}, got {inf.backend!r}")
        if inf.in_step not in ("",) + SYNC_BY:
            raise ConfigError(
                f"{w}: field 'in_step' must be one of {SYNC_BY} or \"\", got {inf.in_step!r}"
            )
        positive(w, "tolerance_ms", inf.tolerance_ms, zero_ok=True)
        positive(w, "stale_ms", inf.stale_ms)
        inf.mode = rig.mode
        inf.endpoint = inf.endpoint or free_endpoint(rig.host)
        inf.input_endpoints = [by_name[n].endpoint for n in inf.inputs]
        inf.cameras = [c for n in inf.inputs for c in by_name[n].cameras]
        inf.frame_sizes = [list(size) for size in sorted(
            {(by_name[n].height, by_name[n].width) for n in inf.inputs
             if by_name[n].kind == "synthetic"})]
    _resolve_3d(rig, base)
    _resolve_recorders(rig, base)
    _resolve_videos(rig, base)
    _resolve_processors(rig, base)
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
    start_ns = time.time_ns()  # one clock for every synthetic camera of the rig
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
        positive(w, "fps", s.fps, zero_ok=True)
        positive(w, "max_frames", s.max_frames, zero_ok=True)
        s.camera = s.camera or s.name
        s.mode = rig.mode
        s.endpoint = s.endpoint or free_endpoint(rig.host)
        positive(w, "jitter_ms", s.jitter_ms, zero_ok=True)
        s.start_ns = start_ns
        if s.calibration:
            _virtual_camera(w, s, base)
    virtual = {(s.seed, s.fps, s.max_frames) for s in rig.sources if s.calibration}
    if len(virtual) > 1:
        raise ConfigError(f"{where}: synthetic sources with a 'calibration' film one animal: "
                          f"give them the same seed, fps and max_frames, got {sorted(virtual)}")
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
        positive(w, "tolerance_ms", sync.tolerance_ms, zero_ok=True)
        positive(w, "max_wait_ms", sync.max_wait_ms)
        positive(w, "max_pending", sync.max_pending)
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
        positive(w, "threshold_px", tri.threshold_px)
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


def _pose_producers(rig: Rig) -> dict:
    """The nodes whose poses a recorder or processor may read, by name."""
    return {i.name: i for i in rig.inference} | {t.name: t for t in rig.triangulates}


def _resolve_recorders(rig: Rig, base: Path) -> None:
    where = str(rig.path)
    producers = _pose_producers(rig)
    folders: dict[str, str] = {}
    for i, rec in enumerate(rig.recorders):
        w = f"{where}: recorder[{i}] ({rec.name})"
        _inputs(w, rec.inputs, producers, "inference or triangulate nodes")
        positive(w, "flush_s", rec.flush_s)
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


def _virtual_camera(where: str, source: SourceSpec, base: Path) -> None:
    """A synthetic source filming the virtual arena through a calibrated camera: the
    calibration must know the camera, at the source's image size."""
    from calib.calibration import load_calibration

    if source.kind != "synthetic":
        raise ConfigError(f"{where}: field 'calibration' is for kind 'synthetic' only")
    source.calibration = str((base / source.calibration).resolve())
    if not Path(source.calibration).is_file():
        raise ConfigError(f"{where}: field 'calibration': no such file {source.calibration}")
    calibration = load_calibration(source.calibration)
    if source.camera not in calibration.names:
        raise ConfigError(f"{where}: field 'calibration': no camera {source.camera!r} in "
                          f"{source.calibration} (it has {calibration.names})")
    size = tuple(calibration.cameras[calibration.names.index(source.camera)].size)
    if size != (source.width, source.height):
        raise ConfigError(f"{where}: fields 'width', 'height' {source.width}x{source.height} "
                          f"differ from the calibrated camera's {size[0]}x{size[1]}")


def _resolve_videos(rig: Rig, base: Path) -> None:
    """Video recorders read live sources' frames, published on a socket of their own."""
    where = str(rig.path)
    by_name = {s.name: s for s in rig.sources}
    for i, video in enumerate(rig.videos):
        w = f"{where}: video[{i}] ({video.name})"
        if rig.mode != "live":
            raise ConfigError(f"{w}: a video recorder needs mode = \"live\" (batch mode "
                              "reads files that are recorded already)")
        _inputs(w, video.inputs, by_name, "sources")
        if video.codec not in CODECS:
            raise ConfigError(f"{w}: field 'codec' must be one of {CODECS}, got {video.codec!r}")
        if not 0 <= video.crf <= 51:
            raise ConfigError(f"{w}: field 'crf' must be in [0, 51], got {video.crf}")
        if not 2 <= video.jpeg_q <= 31:
            raise ConfigError(f"{w}: field 'jpeg_q' must be in [2, 31], got {video.jpeg_q}")
        positive(w, "keyframe_s", video.keyframe_s)
        positive(w, "buffer_s", video.buffer_s)
        positive(w, "threads", video.threads)
        video.mode = rig.mode
        video.folder = str((base / video.folder).resolve())
        video.input_endpoints, video.cameras = [], []
        for n in video.inputs:
            s = by_name[n]
            s.record_endpoint = s.record_endpoint or free_endpoint(rig.host)
            video.input_endpoints.append(s.record_endpoint)
            video.cameras += s.cameras
            video.rates.update({c: s.fps or 30.0 for c in s.cameras})


def _resolve_processors(rig: Rig, base: Path) -> None:
    where = str(rig.path)
    producers = _pose_producers(rig)
    for i, proc in enumerate(rig.processors):
        w = f"{where}: processor[{i}] ({proc.name})"
        _inputs(w, proc.inputs, producers, "inference or triangulate nodes")
        proc.file = str((base / proc.file).resolve())
        if not Path(proc.file).is_file():
            raise ConfigError(f"{w}: field 'file': no such file {proc.file}")
        positive(w, "baudrate", proc.baudrate)
        if proc.serial_port and not Path(proc.serial_port).is_absolute():
            proc.serial_port = str(base / proc.serial_port)  # a link to a device, say
        proc.mode = rig.mode
        proc.folder = str((base / proc.folder).resolve())
        proc.endpoint = proc.endpoint or free_endpoint(rig.host)
        proc.input_endpoints = [producers[n].endpoint for n in proc.inputs]
        proc.cameras = [c for n in proc.inputs for c in (
            [n] if isinstance(producers[n], TriangulateSpec) else producers[n].cameras)]


def _resolve_viewers(rig: Rig) -> None:
    """Viewers show inference nodes (with their sources' frames) and triangulate nodes."""
    where = str(rig.path)
    producers = _pose_producers(rig)
    by_name = {s.name: s for s in rig.sources}
    for i, view in enumerate(rig.viewers):
        w = f"{where}: viewer[{i}] ({view.name})"
        if rig.mode != "live":
            raise ConfigError(f"{w}: a viewer needs mode = \"live\" (batch links are lossless)")
        _inputs(w, view.inputs, producers, "inference or triangulate nodes")
        positive(w, "refresh_hz", view.refresh_hz)
        if not 0 <= view.pcutoff <= 1:
            raise ConfigError(f"{w}: field 'pcutoff' must be in [0, 1], got {view.pcutoff}")
        view.mode = rig.mode
        view.input_endpoints = [producers[n].endpoint for n in view.inputs]
        inference = [producers[n] for n in view.inputs if isinstance(producers[n], InferenceSpec)]
        view.cameras = [c for n in view.inputs for c in (
            [n] if isinstance(producers[n], TriangulateSpec) else producers[n].cameras)]
        view.models = [inf.model for inf in inference]
        rig.stats_endpoint = rig.stats_endpoint or free_endpoint("127.0.0.1")
        view.stats_endpoint = rig.stats_endpoint
        for src in (by_name[s] for inf in inference for s in inf.inputs):
            src.preview_endpoint = src.preview_endpoint or free_endpoint(rig.host)
            view.input_endpoints.append(src.preview_endpoint)


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
    pose_readers = rig.recorders + rig.syncs + rig.viewers + rig.processors
    links += [
        ("inference", i.name, [r.name for r in pose_readers if i.name in r.inputs],
         "recorder, sync or processor", batch)
        for i in rig.inference
    ]
    links += [
        ("sync", s.name, [t.name for t in rig.triangulates if s.name in t.inputs], "triangulate",
         batch)
        for s in rig.syncs
    ]
    links += [
        ("triangulate", t.name,
         [r.name for r in rig.recorders + rig.processors + rig.viewers if t.name in r.inputs],
         "recorder, processor or viewer", batch)
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
    """A viewer of every inference and triangulate node of a loaded `rig` (live mode
    only), with the sources' frame previews turned on; the caller runs it (e.g. in its
    own window)."""
    spec = ViewerSpec(name, [n.name for n in rig.inference + rig.triangulates], pcutoff=pcutoff)
    rig.viewers.append(spec)
    try:
        _resolve_viewers(rig)
    except ConfigError:
        rig.viewers.remove(spec)
        raise
    return spec

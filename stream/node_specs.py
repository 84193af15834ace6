"""What each table of a rig file holds: one dataclass per kind of node, its fields the
table's keys (with their defaults), plus the fields :func:`stream.rig.load_rig` derives
from the links (endpoints, cameras, mode), which a rig file may not set.
"""

from __future__ import annotations

from dataclasses import MISSING, dataclass, field, fields

from calib.errors import ConfigError

SOURCE_KINDS = ("video", "images", "camera", "synthetic", "playlist")
MODES = ("live", "batch")
SYNC_BY = ("index", "timestamp")
CODECS = ("h264", "mjpeg")


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
    jitter_ms: float = 0.0  # synthetic: capture time spread uniformly by +- this much
    # synthetic: this calibration's camera (named as the camera) films the animal on the
    # floor of a virtual arena (train.synth.arena) instead of from straight above
    calibration: str = ""
    mode: str = _derived("batch")
    playlist: list[list[str]] = _derived([])  # [[camera, video], ...]
    preview_endpoint: str = _derived()  # live: frames also published here for viewers
    record_endpoint: str = _derived()  # live: frames also published here for video recorders
    start_ns: int = _derived(0)  # synthetic: the rig's clock (frame k is due at start + k / fps)

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
    backend: str = "torch"  # "torch" | "onnxruntime" (the same artifact, a faster CPU path)
    in_step: str = ""  # live, several cameras: "index" | "timestamp", one frame of each per instant
    tolerance_ms: float = 5.0  # in_step "timestamp": stamps of one instant differ at most this
    stale_ms: float = 1000.0  # in_step: a camera silent this long is reported and not waited for
    endpoint: str = ""
    frame_sizes: list[list[int]] = _derived([])  # [[height, width]] known ahead (synthetic)


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
class VideoSpec(_Reader):
    """A video recorder: the frames of live sources into compressed video files, one per
    camera, with a per-frame table (:mod:`stream.video_recorder`)."""

    name: str
    inputs: list[str]  # sources
    folder: str = "recording"  # <camera>.mp4 + <camera>.frames.csv
    codec: str = "h264"  # "h264" (libx264) | "mjpeg"
    crf: int = 18  # h264: constant rate factor, 0 (lossless) .. 51, lower is better
    preset: str = "veryfast"  # h264: x264 speed preset (ultrafast .. veryslow)
    jpeg_q: int = 3  # mjpeg: quantizer 2 (best) .. 31
    keyframe_s: float = 1.0  # seconds between keyframes: what a killed recorder may lose
    buffer_s: float = 1.0  # frames held while the encoder catches up, beyond: dropped
    threads: int = 1  # encoder threads per camera
    rates: dict[str, float] = _derived({})  # camera -> nominal frame rate of its video


@dataclass
class ProcessorSpec(_Reader):
    """A closed-loop processor: a user's class run on every 2D pose or 3D instant, its
    outputs published on `endpoint`, logged, and sent to a serial port
    (:mod:`stream.processor`)."""

    name: str
    inputs: list[str]  # inference or triangulate nodes
    file: str  # Python file holding the class
    class_name: str
    params: dict = field(default_factory=dict)  # keyword arguments of the class
    folder: str = "recording"  # <name>.outputs.jsonl: every output with its stamps
    serial_port: str = ""  # e.g. "/dev/ttyACM0" ("": no serial output; relative: from the rig file)
    baudrate: int = 115200
    serial_template: str = "{value}\n"  # what is written per output
    endpoint: str = ""  # outputs published here (ZeroMQ PUB, topic "output.<name>")


def check_type(where: str, key: str, value, expected: str) -> None:
    """ConfigError unless `value` fits the annotation `expected` (simple ones are checked)."""
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
        "list[str]": isinstance(value, list) and all(isinstance(v, str) for v in value),
        "dict": isinstance(value, dict),
    }.get(expected, True)
    if not ok:
        raise ConfigError(f"{where}: field {key!r} must be {expected}, got {value!r}")


def build_spec(cls, table: dict, where: str):
    """An instance of spec class `cls` from a rig file's `table` (found at `where`):
    unknown, missing and mistyped fields are ConfigErrors naming the field."""
    if not isinstance(table, dict):
        raise ConfigError(f"{where}: must be a table, got {table!r}")
    known = {f.name: f for f in fields(cls) if not f.metadata.get("derived")}
    unknown = sorted(set(table) - set(known))
    if unknown:
        raise ConfigError(f"{where}: unknown field(s) {unknown}; known: {sorted(known)}")
    for f in known.values():
        if f.name in table:
            check_type(where, f.name, table[f.name], f.type)
    missing = [
        n
        for n, f in known.items()
        if n not in table and f.default is MISSING and f.default_factory is MISSING
    ]
    if missing:
        raise ConfigError(f"{where}: missing field(s) {missing}")
    return cls(**table)


def positive(where: str, key: str, value: float, zero_ok: bool = False) -> None:
    if value < 0 or (value == 0 and not zero_ok):
        raise ConfigError(
            f"{where}: field {key!r} must be {'>= 0' if zero_ok else '> 0'}, got {value}"
        )

"""The wire contract: every ZeroMQ message of the runtime, defined, encoded, decoded
and validated here and nowhere else.

A message is multipart ``[topic, header, buffers...]``:

- ``topic``: ASCII, ``<kind>.<name>`` (``frame.cam0``, ``pose2d.cam0``, ``stats.infer``),
  so SUB sockets can filter by prefix;
- ``header``: a msgpack map with the schema version ``v``, the ``kind``, the fields of
  that kind and ``bufs``, one ``[shape, dtype]`` per following part;
- buffers: raw C-ordered array bytes, sent without copies and read back with
  ``np.frombuffer`` (no pickle anywhere).

Decoding checks everything (version, kind, field types, buffer count, shape x dtype
against the buffer size, limits) and raises :class:`MessageError`; the bus
(:func:`stream.bus.receive`) counts and logs such a message and drops it, so a bad
peer never crashes a node.
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import dataclass, field
from typing import ClassVar

import msgpack
import numpy as np

VERSION = 1
MAX_HEADER_BYTES = 64 * 1024
MAX_BUFFER_BYTES = 256 * 1024 * 1024
MAX_DIM = 1 << 16
MAX_NDIM = 4
MAX_NAME = 128
# Frame indices and sequence numbers: 2^31 frames is over 8 months at 100 fps; anything
# larger is a hostile or broken peer, and would size tables and skip counts.
MAX_INDEX = (1 << 31) - 1
DTYPES = frozenset({"|u1", "<u2", "<i2", "<i4", "<i8", "<f4", "<f8"})


class MessageError(ValueError):
    """A message that does not follow the wire contract."""


def now_ns() -> int:
    """Wall-clock timestamp in ns, comparable across processes of one machine."""
    return time.time_ns()


# ---------------------------------------------------------------- field checks


def _str(h: dict, key: str, limit: int = MAX_NAME) -> str:
    v = h.get(key)
    if not isinstance(v, str) or len(v) > limit:
        raise MessageError(
            f"field {key!r} must be a string of at most {limit} chars, got {v!r:.80}"
        )
    return v


def _int(h: dict, key: str, lo: int = -(1 << 63), hi: int = (1 << 63) - 1) -> int:
    v = h.get(key)
    if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
        raise MessageError(f"field {key!r} must be an int in [{lo}, {hi}], got {v!r:.80}")
    return v


def _float(h: dict, key: str) -> float:
    v = h.get(key)
    if not isinstance(v, (int, float)) or isinstance(v, bool):
        raise MessageError(f"field {key!r} must be a number, got {v!r:.80}")
    return float(v)


def _names(h: dict, key: str, limit: int = 1024) -> tuple[str, ...]:
    """Distinct non-empty names (bodyparts, cameras): a repeated name would make two
    columns of one table the same."""
    v = h.get(key)
    if (
        not isinstance(v, list)
        or len(v) > limit
        or not all(isinstance(s, str) and 0 < len(s) <= MAX_NAME for s in v)
        or len(set(v)) != len(v)
    ):
        raise MessageError(f"field {key!r} must be a list of distinct names, got {v!r:.80}")
    return tuple(v)


def _name_map(h: dict, key: str, limit: int, fits, what: str) -> dict:
    """Field `key` as a map of at most `limit` names to values that `fits` accepts."""
    v = h.get(key)
    if (
        not isinstance(v, dict)
        or len(v) > limit
        or not all(isinstance(k, str) and len(k) <= MAX_NAME and fits(x) for k, x in v.items())
    ):
        raise MessageError(f"field {key!r} must map names to {what}, got {v!r:.80}")
    return dict(v)


def _counts(h: dict, key: str) -> dict[str, int]:
    return _name_map(h, key, 1024, lambda n: isinstance(n, int) and not isinstance(n, bool)
                     and 0 <= n <= MAX_INDEX, f"ints in [0, {MAX_INDEX}]")


def _values(h: dict, key: str) -> dict[str, int | float | str | bool]:
    return _name_map(h, key, 256, lambda x: isinstance(x, (int, float, bool))
                     or isinstance(x, str) and len(x) <= 4096, "numbers or strings")


def _stamped(h: dict, name: str) -> tuple[str, int, int, int]:
    """The fields every frame-derived kind starts with: its stream's `name`, sequence
    number, frame index and capture stamp."""
    return (_str(h, name), _int(h, "seq", 0, MAX_INDEX), _int(h, "index", 0, MAX_INDEX),
            _int(h, "t_capture", 0))


def _array(arr: np.ndarray, shape: tuple[int, ...], dtype: str, what: str) -> np.ndarray:
    if arr.shape != shape or arr.dtype.str != dtype:
        raise MessageError(f"{what} must be {shape} {dtype}, got {arr.shape} {arr.dtype.str}")
    return arr


# ---------------------------------------------------------------- message kinds


class _Message:
    """What every kind shares: its header fields are its dataclass fields except the
    arrays named in ``buffers``, which travel as the following parts, in that order; its
    topic is ``<kind>.<the value of its topic_field>``. A kind states these three in its
    class line: ``class EndMessage(_Message, kind="end", topic_field="camera")``."""

    kind: ClassVar[str]
    topic_field: ClassVar[str]
    buffers: ClassVar[tuple[str, ...]]

    def __init_subclass__(cls, kind: str, topic_field: str, buffers: tuple[str, ...] = (),
                          **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.kind, cls.topic_field, cls.buffers = kind, topic_field, buffers

    def fields(self) -> dict:
        return {f.name: getattr(self, f.name) for f in dataclasses.fields(self)
                if f.name not in self.buffers}

    def arrays(self) -> list[np.ndarray]:
        return [getattr(self, name) for name in self.buffers]

    @property
    def topic(self) -> str:
        return f"{self.kind}.{self.stream}"

    @property
    def stream(self) -> str:
        """The camera, group or node this message belongs to."""
        return getattr(self, self.topic_field)


@dataclass
class FrameMessage(_Message, kind="frame", topic_field="camera", buffers=("image",)):
    """One captured image of one camera: ``image`` is ``(H, W, 3)`` uint8 BGR."""

    camera: str
    seq: int  # per-camera sequence number, +1 per frame the source produced
    index: int  # frame index in the video / hardware counter
    t_capture: int  # ns
    image: np.ndarray

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> FrameMessage:
        img = arrays[0]
        if img.ndim != 3 or img.shape[2] != 3 or img.dtype != np.uint8 or 0 in img.shape:
            raise MessageError(f"frame image must be (H, W, 3) uint8, H, W > 0, got {img.shape} "
                               f"{img.dtype}")
        return cls(*_stamped(h, cls.topic_field), img)


@dataclass
class Pose2DMessage(_Message, kind="pose2d", topic_field="camera", buffers=("poses",)):
    """The 2D pose of one frame: ``poses`` ``(K, 3)`` float32 x, y, likelihood in frame pixels;
    from a multi-animal model ``(I, K, 3)`` with ``individuals`` naming the rows (NaN rows:
    no animal in that slot)."""

    camera: str
    seq: int
    index: int
    t_capture: int
    t_infer: int  # ns, when the network's output was ready
    scorer: str
    bodyparts: tuple[str, ...]
    poses: np.ndarray
    individuals: tuple[str, ...] = ()

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> Pose2DMessage:
        bodyparts = _names(h, "bodyparts")
        individuals = _names(h, "individuals") if h.get("individuals") else ()
        rows = (len(individuals),) if individuals else ()
        return cls(
            *_stamped(h, cls.topic_field),
            _int(h, "t_infer", 0),
            _str(h, "scorer", 1024),
            bodyparts,
            _array(arrays[0], (*rows, len(bodyparts), 3), "<f4", "pose2d poses"),
            individuals,
        )


@dataclass
class Group2DMessage(_Message, kind="group2d", topic_field="group",
                     buffers=("poses", "indices", "stamps")):
    """The 2D poses of one instant from several cameras, grouped by a sync node.

    ``poses`` ``(C, K, 3)`` float32 in the order of ``cameras`` (several animals: ``(C, I, K,
    3)``, each camera's rows as it sent them), NaN rows for cameras absent from the group;
    ``present`` names the cameras that are there (a partial group has fewer than all);
    ``indices`` and ``stamps`` ``(C,)`` int64 are each camera's frame index and capture
    time (-1 / 0 when absent).
    """

    group: str
    seq: int
    index: int
    t_capture: int  # ns, the earliest capture stamp of the group
    scorer: str
    cameras: tuple[str, ...]
    present: tuple[str, ...]
    bodyparts: tuple[str, ...]
    poses: np.ndarray
    indices: np.ndarray
    stamps: np.ndarray
    individuals: tuple[str, ...] = ()

    @property
    def partial(self) -> bool:
        return len(self.present) < len(self.cameras)

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> Group2DMessage:
        cameras = _names(h, "cameras")
        present = _names(h, "present")
        bodyparts = _names(h, "bodyparts")
        if not set(present) <= set(cameras):
            raise MessageError(f"group2d: present {present} not all in cameras {cameras}")
        c, k = len(cameras), len(bodyparts)
        individuals = _names(h, "individuals") if h.get("individuals") else ()
        rows = (len(individuals),) if individuals else ()
        return cls(
            *_stamped(h, cls.topic_field),
            _str(h, "scorer", 1024),
            cameras,
            present,
            bodyparts,
            _array(arrays[0], (c, *rows, k, 3), "<f4", "group2d poses"),
            _array(arrays[1], (c,), "<i8", "group2d indices"),
            _array(arrays[2], (c,), "<i8", "group2d stamps"),
            individuals,
        )


@dataclass
class Pose3DMessage(_Message, kind="pose3d", topic_field="group",
                    buffers=("xyz", "score", "reprojection_error", "n_cameras")):
    """A 3D pose of one instant: ``xyz`` ``(K, 3)`` float32 and per point ``score``,
    ``reprojection_error`` (px) float32 ``(K,)`` and ``n_cameras`` int16 ``(K,)``, as in
    :class:`train.data.keypoints.Poses3D`."""

    group: str
    seq: int
    index: int
    t_capture: int
    bodyparts: tuple[str, ...]
    xyz: np.ndarray
    score: np.ndarray
    reprojection_error: np.ndarray
    n_cameras: np.ndarray
    individuals: tuple[str, ...] = ()  # several animals: arrays (I, K, ...)

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> Pose3DMessage:
        bodyparts = _names(h, "bodyparts")
        individuals = _names(h, "individuals") if h.get("individuals") else ()
        k = (*((len(individuals),) if individuals else ()), len(bodyparts))
        return cls(
            *_stamped(h, cls.topic_field),
            bodyparts,
            _array(arrays[0], (*k, 3), "<f4", "pose3d xyz"),
            _array(arrays[1], k, "<f4", "pose3d score"),
            _array(arrays[2], k, "<f4", "pose3d reprojection_error"),
            _array(arrays[3], k, "<i2", "pose3d n_cameras"),
            individuals,
        )


@dataclass
class EndMessage(_Message, kind="end", topic_field="camera"):
    """End of one camera's stream: ``last_seq`` is the last sequence number its source
    produced (-1: none), so a receiver can count every frame it never saw."""

    camera: str
    last_seq: int
    frames: int = 0  # rows written, when a recorder announces a finished file
    path: str = ""  # the file it wrote, if any

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> EndMessage:
        return cls(
            _str(h, "camera"), _int(h, "last_seq", -1, MAX_INDEX), _int(h, "frames", 0, MAX_INDEX),
            _str(h, "path", 4096),
        )


@dataclass
class OutputMessage(_Message, kind="output", topic_field="node"):
    """One output of a closed-loop processor: the flat ``values`` map its class returned
    (names to numbers or strings), the capture stamp of the pose that caused it and
    when it was written (ns); ``seq`` counts the processor's outputs from 0."""

    node: str
    seq: int
    t_capture: int
    t_output: int
    values: dict[str, int | float | str | bool]

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> OutputMessage:
        return cls(_str(h, "node"), _int(h, "seq", 0), _int(h, "t_capture", 0),
                   _int(h, "t_output", 0), _values(h, "values"))


@dataclass
class StatsMessage(_Message, kind="stats", topic_field="node"):
    """One node's last second: frames/s, latency (capture stamp to now) p50/p99 in ms,
    frames dropped or skipped, items waiting inside the node, and per-camera totals."""

    node: str
    t: int
    fps: float
    p50_ms: float
    p99_ms: float
    drops: int
    queue: int
    totals: dict[str, int] = field(default_factory=dict)
    rejected: int = 0  # messages this node refused since it started (malformed, or not for it)

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> StatsMessage:
        return cls(
            _str(h, "node"),
            _int(h, "t"),
            _float(h, "fps"),
            _float(h, "p50_ms"),
            _float(h, "p99_ms"),
            _int(h, "drops", 0),
            _int(h, "queue", 0),
            _counts(h, "totals"),
            _int(h, "rejected", 0),
        )


@dataclass
class LogMessage(_Message, kind="log", topic_field="node"):
    """A log record of a node, so that one console shows every process."""

    node: str
    level: int
    text: str

    @classmethod
    def build(cls, h: dict, arrays: list[np.ndarray]) -> LogMessage:
        return cls(_str(h, "node"), _int(h, "level", 0, 100), _str(h, "text", 16384))


Message = (FrameMessage | Pose2DMessage | Group2DMessage | Pose3DMessage | EndMessage
           | OutputMessage | StatsMessage | LogMessage)
KINDS: dict[str, type] = {
    c.kind: c for c in (FrameMessage, Pose2DMessage, Group2DMessage, Pose3DMessage, EndMessage,
                        OutputMessage, StatsMessage, LogMessage)
}


# ---------------------------------------------------------------- encode / decode


def encode(msg: Message) -> list:
    """``[topic, header, buffers...]`` for ``send_multipart(..., copy=False)``.

    Array buffers are passed as (contiguous) arrays, not copied.
    """
    arrays = [np.ascontiguousarray(a) for a in msg.arrays()]
    header = {
        "v": VERSION,
        "kind": msg.kind,
        **msg.fields(),
        "bufs": [[list(a.shape), a.dtype.str] for a in arrays],
    }
    return [msg.topic.encode(), msgpack.packb(header, use_bin_type=True), *arrays]


def _buffer(part) -> memoryview:
    # zmq.Frame (copy=False) exposes .buffer; bytes / memoryview come from copy=True or tests
    buf = getattr(part, "buffer", part)
    try:
        return memoryview(buf).cast("B")
    except TypeError as exc:
        raise MessageError(f"part is not a byte buffer ({type(part).__name__})") from exc


def decode(parts: list) -> Message:
    """Parse and validate a received multipart message; MessageError if it is bad, and
    only MessageError, whatever the bytes."""
    try:
        return _decode(parts)
    except MessageError:
        raise
    except Exception as exc:  # a check this module missed must not take a node down
        raise MessageError(f"unreadable message ({type(exc).__name__}: {exc})") from exc


def _decode(parts: list) -> Message:
    if not isinstance(parts, (list, tuple)) or len(parts) < 2:
        raise MessageError(f"need at least topic and header, got {len(parts)} part(s)")
    if len(parts) > 2 + 8:
        raise MessageError(f"too many parts ({len(parts)})")
    raw_header = _buffer(parts[1])
    if raw_header.nbytes > MAX_HEADER_BYTES:
        raise MessageError(f"header of {raw_header.nbytes} bytes exceeds {MAX_HEADER_BYTES}")
    try:
        # the header size is bounded above, which bounds every container in it
        header = msgpack.unpackb(raw_header, raw=False, strict_map_key=True)
    except Exception as exc:  # msgpack raises several types for garbage
        raise MessageError(f"header is not msgpack ({type(exc).__name__})") from exc
    if not isinstance(header, dict):
        raise MessageError("header is not a map")
    version = header.get("v")
    if version != VERSION:
        raise MessageError(f"schema version {version!r:.20}, this node reads {VERSION}")
    cls = KINDS.get(header.get("kind")) if isinstance(header.get("kind"), str) else None
    if cls is None:
        raise MessageError(f"unknown kind {header.get('kind')!r:.40}")
    arrays = _arrays(header, parts[2:])
    if len(arrays) != len(cls.buffers):
        raise MessageError(f"{cls.kind} needs {len(cls.buffers)} buffer(s), got {len(arrays)}")
    msg = cls.build(header, arrays)
    topic = bytes(_buffer(parts[0]))
    if topic != msg.topic.encode():
        raise MessageError(f"topic {topic[:80]!r} does not match {msg.topic!r}")
    return msg


def _arrays(header: dict, parts) -> list[np.ndarray]:
    specs = header.get("bufs")
    if not isinstance(specs, list) or len(specs) != len(parts):
        raise MessageError(f"header lists {specs!r:.40} buffers, message has {len(parts)}")
    out = []
    for i, (spec, part) in enumerate(zip(specs, parts, strict=True)):
        if not (
            isinstance(spec, list)
            and len(spec) == 2
            and isinstance(spec[0], list)
            and isinstance(spec[1], str)
        ):
            raise MessageError(f"buffer {i}: spec must be [shape, dtype], got {spec!r:.40}")
        shape, dtype = spec
        if dtype not in DTYPES:
            raise MessageError(f"buffer {i}: dtype {dtype!r:.20} not allowed")
        if len(shape) > MAX_NDIM or not all(
            isinstance(d, int) and not isinstance(d, bool) and 0 <= d <= MAX_DIM for d in shape
        ):
            raise MessageError(f"buffer {i}: bad shape {shape!r:.60}")
        dt = np.dtype(dtype)
        # Python ints: an int64 product of [65536] * 4 wraps to 0 and would pass
        expected = math.prod(shape) * dt.itemsize
        if expected > MAX_BUFFER_BYTES:
            raise MessageError(f"buffer {i}: {expected} bytes exceeds {MAX_BUFFER_BYTES}")
        buf = _buffer(part)
        if buf.nbytes != expected:
            raise MessageError(
                f"buffer {i}: {buf.nbytes} bytes, shape {shape} {dtype} needs {expected}"
            )
        out.append(np.frombuffer(buf, dtype=dt).reshape(shape))
    return out

"""Hostile messages, sent by real ZeroMQ sockets to real node processes: every node
survives every message, refuses what it cannot use, and counts exactly what it refused
(the ``rejected`` total of its stats). The fuzz test sends random and schema-valid but
mutated messages to every node kind; the other tests are the cases the adversarial
probe of issue 11 found."""

from __future__ import annotations

import threading
import time

import msgpack
import numpy as np
import pytest
import zmq

from calib.calibration import save_calibration
from calib.virtual_rig import make_rig
from stream import messages as m
from stream import rig as specs  # the rig file's node specs
from stream.bus import MAX_LEAP, send
from stream.rig import free_endpoint
from stream.supervisor import Supervisor
from tests.stream.nodeharness import NodeProcess, Sink, Target, feeder

CAMS = ("cam0", "cam1")
BODYPARTS = ("head", "tail")  # the tiny model's
VIEWER_TOPICS = (b"frame.", b"pose2d.", b"end.")


def _frame(camera: str, index: int = 0, shape=(32, 48, 3)) -> m.FrameMessage:
    return m.FrameMessage(camera, index, index, m.now_ns(), np.full(shape, 90, np.uint8))


def _pose(camera: str, index: int = 0, bodyparts=BODYPARTS) -> m.Pose2DMessage:
    poses = np.full((len(bodyparts), 3), 0.5, np.float32)
    t = m.now_ns()
    return m.Pose2DMessage(camera, index, index, t, t, "DLC_tiny", bodyparts, poses)


def _group(cameras: tuple[str, ...], index: int = 0, bodyparts=BODYPARTS) -> m.Group2DMessage:
    c, k = len(cameras), len(bodyparts)
    return m.Group2DMessage("sync", index, index, m.now_ns(), "DLC_tiny", cameras, cameras,
                            bodyparts,
                     np.full((c, k, 3), 0.5, np.float32), np.full(c, index, np.int64),
                     np.full(c, m.now_ns(), np.int64))


@pytest.fixture(scope="module")
def fleet(tiny_model, tmp_path_factory):
    """Every node kind that reads messages, each in its own process, started together."""
    tmp = tmp_path_factory.mktemp("fleet")
    ctx = zmq.Context()
    rig, _ = make_rig(2, seed=1)
    calibration = save_calibration(rig, tmp / "calibration.toml")
    cams3d = tuple(rig.names)
    setups = {}
    for mode in ("batch", "live"):
        setups[f"inference-{mode}"] = (
            "inference",
            specs.InferenceSpec(f"pose-{mode}", str(tiny_model), ["src"], mode=mode,
                                batch_size=2, max_wait_ms=5, endpoint=free_endpoint(),
                                cameras=list(CAMS)),
            False, [_frame(c) for c in CAMS], list(CAMS))
    setups["recorder"] = ("recorder", specs.RecorderSpec(
        "rec", ["pose"], folder=str(tmp / "rec"), mode="batch", cameras=list(CAMS)),
        False, [_pose(c) for c in CAMS], list(CAMS))
    setups["sync"] = ("sync", specs.SyncSpec("sync", ["pose"], endpoint=free_endpoint(),
                                             mode="batch", cameras=list(CAMS)),
                      False, [_pose(c) for c in CAMS], list(CAMS))
    setups["triangulate"] = ("triangulate", specs.TriangulateSpec(
        "tri", ["sync"], str(calibration), calib_cameras=list(cams3d), endpoint=free_endpoint(),
        mode="batch", cameras=list(cams3d)), False, [_group(cams3d)], ["sync"])
    setups["viewer"] = ("viewer", specs.ViewerSpec("view", ["pose"], cameras=list(CAMS)),
                        True, [_frame(CAMS[0]), _pose(CAMS[0])], list(CAMS))
    targets = {}
    for key, (role, spec, publish, valid, streams) in setups.items():
        endpoint = free_endpoint()
        spec.input_endpoints = [endpoint]
        sock = feeder(ctx, endpoint, publish)
        extra = {"spec": spec}
        if getattr(spec, "endpoint", ""):  # read its output, so its sends never block
            extra["sink"] = Sink(ctx, spec.endpoint, spec.mode == "live")
        targets[key] = Target(NodeProcess(role, spec, ctx), sock, valid, streams,
                              VIEWER_TOPICS if publish else (), extra)
    try:
        for t in targets.values():
            t.node.wait_ready()
        for t in targets.values():
            _handshake(t)
            for msg in t.valid:
                send(t.feed, msg)
        yield targets
        for t in targets.values():  # all at once (a second SIGTERM would force a node out)
            t.node.proc.terminate()
        for key, t in targets.items():
            code = t.node.proc.wait(60)
            assert code == 0, f"{key} did not stop cleanly ({code}): {t.node.errors}"
    finally:
        for t in targets.values():
            t.node.close()
            t.feed.close()
            if "sink" in t.extra:
                t.extra["sink"].close()
        ctx.term()


def _handshake(t: Target) -> None:
    """Send one refused message until it arrives (a SUB input joins late), so that from
    here every message sent reaches the node."""
    before = t.node.rejected
    deadline = time.monotonic() + 60
    while not t.node.poll(lambda: t.node.rejected > before, 0.2):
        assert time.monotonic() < deadline, f"{t.node.name} never answered"
        t.send_raw([(t.subscribed or (b"",))[0] + b"handshake", b"\xc1"])
    t.extra["base"] = t.node.rejected


def _rejection_problem(t: Target, sent: int) -> str | None:
    """What is wrong once `sent` more messages went to `t`: not all of them rejected in
    time, or the node gone; None if nothing."""
    t.extra["base"] += sent
    # a loaded machine works through 20,000 messages (some of 200 KB) in minutes
    if not t.node.wait_rejected(t.extra["base"], 60 + sent / 50):
        return (f"{t.node.name}: rejected {t.node.rejected}, expected {t.extra['base']}; "
                f"alive {t.node.alive}, errors {t.node.errors}")
    if not t.node.alive:
        return f"{t.node.name}: ended ({t.node.errors})"
    return None


# ---------------------------------------------------------------- generators

def random_message(rng: np.random.Generator, topics: tuple[bytes, ...]) -> list[bytes]:
    """Garbage of every shape: random parts, random msgpack, headers that look right."""
    prefix = topics[rng.integers(len(topics))] if topics else b""
    parts = [prefix + rng.bytes(int(rng.integers(0, 12)))]
    style = rng.integers(4)
    if style == 0:
        parts.append(rng.bytes(int(rng.integers(0, 64))))
    elif style == 1:
        parts.append(msgpack.packb({str(rng.integers(9)): int(rng.integers(-9, 9))}))
    elif style == 2:
        kind = ["frame", "pose2d", "group2d", "pose3d", "end", "stats", "log", "?"][
            rng.integers(8)]
        shape = [int(v) for v in rng.choice([0, 1, 3, 65536, 1 << 40], int(rng.integers(5)))]
        parts.append(msgpack.packb({"v": 1, "kind": kind, "camera": "cam0", "seq": 1,
                                    "index": int(rng.integers(-2, 2)), "t_capture": 1,
                                    "bufs": [[shape, "|u1"]]}))
    else:
        parts.append(msgpack.packb([1, 2, 3]))
    parts += [rng.bytes(int(rng.integers(0, 32))) for _ in range(int(rng.integers(0, 11)))]
    return parts


def _flip(name: str, rng: np.random.Generator) -> str:
    i = int(rng.integers(len(name)))
    return name[:i] + chr(ord(name[i]) ^ (1 << int(rng.integers(5)))) + name[i + 1:]


def mutated_message(t: Target, key: str, rng: np.random.Generator) -> m.Message:
    """A message that decodes (the wire schema holds) but that this node must refuse."""
    base = t.valid[int(rng.integers(len(t.valid)))]
    stream_field = "group" if isinstance(base, m.Group2DMessage) else "camera"
    choices = ["stream", "leap", "end"]
    if getattr(base, "bodyparts", None) is not None:
        choices.append("bodyparts")
    if not t.subscribed:
        choices.append("kind")
    if key.startswith("inference"):
        choices.append("size")
    if key == "triangulate":
        choices.append("cameras")
    how = choices[int(rng.integers(len(choices)))]
    if how == "stream":
        name = other = getattr(base, stream_field)
        while other in t.streams:  # a flipped bit may give another camera of the node
            other = _flip(name, rng) if rng.integers(2) else f"x{rng.integers(1 << 30)}"
        return _replace(base, **{stream_field: other})
    if how == "leap":
        return _replace(base, index=MAX_LEAP + 1 + int(rng.integers(1 << 20)))
    if how == "end":
        return m.EndMessage(f"{rng.integers(1 << 30)}", int(rng.integers(-1, 1 << 20)))
    if how == "bodyparts":
        parts = list(base.bodyparts)
        change = rng.integers(3)
        if change == 0:
            parts[int(rng.integers(len(parts)))] = _flip(parts[0], rng) + "_"
        elif change == 1:
            parts = parts[:-1]
        else:
            parts.append("extra")
        if isinstance(base, m.Group2DMessage):
            return _group(base.cameras, base.index, tuple(parts))
        return _pose(base.camera, base.index, tuple(parts))
    if how == "kind":
        kinds = [m.LogMessage("intruder", 20, "hello"),
                 m.StatsMessage("intruder", 1, 1.0, 1.0, 1.0, 0, 0),
                 _group(CAMS), _pose("cam0"), _frame("cam0")]
        useless = [k for k in kinds if not isinstance(k, tuple(type(v) for v in t.valid))
                   and not isinstance(k, m.EndMessage)]
        return useless[int(rng.integers(len(useless)))]
    if how == "size":
        return _frame(base.camera, shape=((8192, 8, 3), (4200, 64, 3))[int(rng.integers(2))])
    return _group(("camA", "camB"))  # cameras this triangulation node has no calibration for


def _replace(msg: m.Message, **changes) -> m.Message:
    import dataclasses

    return dataclasses.replace(msg, **changes)


def fuzz(fleet: dict[str, Target], n_random: int, n_mutated: int, seed: int = 0) -> list[str]:
    """Send every node random and mutated messages; the problems found (none: [])."""
    rng = np.random.default_rng(seed)
    for key, t in fleet.items():
        for _ in range(n_random):
            t.send_raw(random_message(rng, t.subscribed))
        for _ in range(n_mutated):
            send(t.feed, mutated_message(t, key, rng))
    problems = (_rejection_problem(t, n_random + n_mutated) for t in fleet.values())
    return [p for p in problems if p]


# ---------------------------------------------------------------- tests

def test_fuzz_every_node_kind(fleet):
    assert fuzz(fleet, 200, 200) == []
    assert _inference_problems(fleet) == []


@pytest.mark.slow
def test_fuzz_every_node_kind_10000(fleet):
    assert fuzz(fleet, 10_000, 10_000, seed=1) == []
    assert _inference_problems(fleet) == []


def _inference_problems(fleet) -> list[str]:
    """Whether good frames after all that still give poses (before, the live node's
    receiver thread died and it never sent another): the problems, none: []. One frame per
    camera: a batch node runs only full batches (batch_size 2) until a camera ends."""
    problems = []
    for mode in ("batch", "live"):
        t = fleet[f"inference-{mode}"]
        sink = t.extra["sink"]
        index = t.extra.setdefault("next_index", 1000) + 1
        t.extra["next_index"] = index
        for camera in CAMS:
            send(t.feed, _frame(camera, index))
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and not _answers(sink, index):
            time.sleep(0.05)
        got = _answers(sink, index)
        if not got or got[0].bodyparts != BODYPARTS:
            problems.append(f"{mode}: no pose for frame {index}")
        if sink.malformed:
            problems.append(f"{mode}: sent {sink.malformed} malformed messages")
    return problems


def _answers(sink: Sink, index: int) -> list[m.Pose2DMessage]:
    return [msg for msg in list(sink.messages)
            if isinstance(msg, m.Pose2DMessage) and msg.index == index]


def test_shape_that_overflows_the_size_check(fleet):
    """``[65536] * 4`` bytes is 2^64: as an int64 product it wrapped to 0 and passed
    against an empty buffer, then reshape raised out of receive()."""
    header = msgpack.packb({"v": 1, "kind": "frame", "camera": "cam0", "seq": 5, "index": 5,
                            "t_capture": 1, "bufs": [[[65536] * 4, "|u1"]]})
    problems = []
    for key in ("inference-batch", "inference-live", "recorder", "sync", "viewer"):
        t = fleet[key]
        t.send_raw([b"frame.cam0", header, b""])
        problems.append(_rejection_problem(t, 1))
    assert problems == [None] * 5
    assert _inference_problems(fleet) == []


@pytest.mark.parametrize("case", [
    "empty-frame", "tall-frame", "seq-near-2^63", "index-2^40", "bodyparts-change",
    "flipped-bodypart",
])
def test_schema_valid_hostile_messages(fleet, case):
    if case in ("empty-frame", "tall-frame", "seq-near-2^63"):
        t = fleet["inference-live"]
        if case == "seq-near-2^63":
            frame = _frame("cam0")
            parts = m.encode(frame)
            header = msgpack.unpackb(parts[1])
            header["seq"] = (1 << 63) - 2
            t.send_raw([parts[0], msgpack.packb(header), parts[2].tobytes()])
        else:
            shape = (0, 0, 3) if case == "empty-frame" else (8192, 8, 3)
            send(t.feed, _frame("cam0", shape=shape))
    else:
        t = fleet["recorder"]
        if case == "index-2^40":
            parts = m.encode(_pose("cam0", 7))
            header = msgpack.unpackb(parts[1])
            header["index"] = 1 << 40
            t.send_raw([parts[0], msgpack.packb(header), parts[2].tobytes()])
        elif case == "bodyparts-change":
            send(t.feed, _pose("cam0", 8, ("head", "tail", "ear")))
        else:
            send(t.feed, _pose("cam0", 9, ("head", "tajl")))
    assert _rejection_problem(t, 1) is None


def test_supervisor_survives_its_bus_and_writes_the_table(tmp_path, tiny_model):
    """Any local process can connect to the supervisor's endpoint; before, one bad
    message there crashed ``poseloop run``, which then killed every node."""
    source = specs.SourceSpec("src", "synthetic", camera="cam0", fps=20, max_frames=40,
                              width=64, height=48, endpoint=free_endpoint(), mode="batch")
    infer = specs.InferenceSpec("pose", str(tiny_model), ["src"], endpoint=free_endpoint(),
                                mode="batch", input_endpoints=[source.endpoint],
                                cameras=["cam0"])
    rec = specs.RecorderSpec("rec", ["pose"], folder=str(tmp_path / "rec"), mode="batch",
                             input_endpoints=[infer.endpoint], cameras=["cam0"],
                             table_paths={"cam0": ["cam0", str(tmp_path)]})
    endpoint = free_endpoint()
    ends: list[m.EndMessage] = []
    sup = Supervisor([("recorder", rec), ("inference", infer), ("source", source)], endpoint,
                     0.2, on_message=lambda msg: ends.append(msg)
                     if isinstance(msg, m.EndMessage) else None, print_stats=False)
    runner = threading.Thread(target=sup.run)
    runner.start()
    ctx = zmq.Context.instance()
    push = ctx.socket(zmq.PUSH)
    push.connect(endpoint)
    rng = np.random.default_rng(3)
    hostile = [[b"frame.cam0", msgpack.packb({"v": 1, "kind": "frame", "camera": "cam0",
                                              "seq": 5, "index": 5, "t_capture": 1,
                                              "bufs": [[[65536] * 4, "|u1"]]}), b""]]
    hostile += [random_message(rng, ()) for _ in range(100)]
    intruders = (m.StatsMessage("intruder", 1, 1.0, 1.0, 1.0, 0, 0),
                 m.LogMessage("intruder", 50, "boo"), m.EndMessage("nobody", 3), _frame("cam0"),
                 _pose("cam0"))
    hostile += [m.encode(msg) for msg in intruders]
    try:
        for parts in hostile:
            push.send_multipart(parts, copy=False)
        runner.join(120)
    finally:
        push.close(linger=0)
    assert not runner.is_alive()
    assert sup.rejected == len(hostile)
    (end,) = [e for e in ends if e.path]
    assert end.camera == "cam0" and end.frames == 40

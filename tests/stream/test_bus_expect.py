"""The bus's defences in one process: decoding raises only MessageError whatever the
bytes, an expectation refuses what a node cannot use, and a receiver thread that dies
takes its node down with an error."""

from __future__ import annotations

import logging
import signal
import sys
import threading
import types

import msgpack
import numpy as np
import pytest
import zmq

from stream import messages as m
from stream.bus import MAX_LEAP, Bus, Expect, Listener
from stream.node import ROLES, run_node
from stream.rig import SourceSpec, free_endpoint


def test_shape_product_cannot_wrap():
    header = msgpack.packb({"v": 1, "kind": "frame", "camera": "c", "seq": 1, "index": 1,
                            "t_capture": 1, "bufs": [[[65536] * 4, "|u1"]]})
    with pytest.raises(m.MessageError, match="exceeds"):
        m.decode([b"frame.c", header, b""])


def test_decoding_random_bytes_raises_only_message_error():
    rng = np.random.default_rng(0)
    for _ in range(3000):
        parts = [rng.bytes(int(rng.integers(0, 16))) for _ in range(int(rng.integers(0, 6)))]
        if len(parts) > 1 and rng.integers(2):
            parts[1] = msgpack.packb({"v": 1, "kind": "pose2d", "camera": "c",
                                      "bodyparts": [rng.bytes(3).hex()] * int(rng.integers(3)),
                                      "bufs": [[[int(rng.integers(-1, 9))], "<f4"]]})
        with pytest.raises(m.MessageError):
            m.decode(parts)


@pytest.mark.parametrize("changes, field", [
    ({"seq": 1 << 40}, "seq"), ({"index": -1}, "index"), ({"bodyparts": ["a", "a"]}, "bodyparts"),
    ({"bodyparts": ["a", ""]}, "bodyparts"),
])
def test_fields_are_bounded(changes, field):
    parts = m.encode(m.Pose2DMessage("c", 1, 1, 1, 1, "s", ("a", "b"),
                                     np.zeros((2, 3), np.float32)))
    header = {**msgpack.unpackb(parts[1]), **changes}
    with pytest.raises(m.MessageError, match=field):
        m.decode([parts[0], msgpack.packb(header), parts[2]])


def _pose(camera="cam0", index=0, bodyparts=("a", "b")):
    return m.Pose2DMessage(camera, index, index, 1, 1, "s", bodyparts,
                           np.zeros((len(bodyparts), 3), np.float32))


def test_expect_refuses_what_a_node_cannot_use():
    expect = Expect((m.Pose2DMessage, m.EndMessage), ["cam0"],
                    check=lambda msg: "odd" if getattr(msg, "index", 0) == 13 else None)
    assert expect.refusal(_pose()) is None
    assert "frame message" in expect.refusal(
        m.FrameMessage("cam0", 1, 1, 1, np.zeros((2, 2, 3), np.uint8)))
    assert "unknown stream" in expect.refusal(_pose("cam9"))
    assert "bodyparts changed" in expect.refusal(_pose(bodyparts=("a", "c")))
    assert "leaps" in expect.refusal(_pose(index=MAX_LEAP + 1))
    assert expect.refusal(_pose(index=13)) == "odd"
    assert expect.refusal(_pose(index=MAX_LEAP)) is None  # within a leap of the newest
    assert expect.refusal(m.EndMessage("cam0", 5)) is None
    assert "unknown stream" in expect.refusal(m.EndMessage("cam1", 5))


def test_listener_reports_its_death():
    bus = Bus("probe")
    endpoint = free_endpoint()
    sock = bus.input("batch", [endpoint])
    push = bus.ctx.socket(zmq.PUSH)
    push.bind(endpoint)
    died = threading.Event()
    errors: list[BaseException] = []

    def boom(msg):
        raise ValueError("a handler bug")

    listener = Listener(bus, sock, boom, 20, on_failure=lambda e: (errors.append(e), died.set()))
    listener.start()
    push.send_multipart(m.encode(_pose()))
    assert died.wait(30) and isinstance(errors[0], ValueError)
    listener.close()
    push.close(0)
    bus.close(0)


def test_node_whose_worker_thread_dies_exits_with_an_error(monkeypatch):
    """A role whose receiver thread dies: the node stops and exits 1, naming the cause."""
    role = types.ModuleType("dying_role")

    def run(spec, node):
        sock = node.bus.input("batch", [spec.endpoint])
        push = node.bus.ctx.socket(zmq.PUSH)
        push.bind(spec.endpoint)
        listener = Listener(node.bus, sock, lambda msg: 1 / 0, 20, on_failure=node.fail)
        listener.start()
        push.send_multipart(m.encode(_pose()))
        while not node.stop.requested:
            node.stats.tick()
        listener.close()
        push.close(0)

    role.run = run
    monkeypatch.setitem(sys.modules, "dying_role", role)
    monkeypatch.setitem(ROLES, "dying", ("dying_role", SourceSpec))
    ctx = zmq.Context.instance()
    link = ctx.socket(zmq.PULL)
    supervisor = free_endpoint()
    link.bind(supervisor)
    spec = SourceSpec("probe", "synthetic", endpoint=free_endpoint())
    handlers = {s: signal.getsignal(s) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        assert run_node("dying", spec, supervisor, 0.1) == 1
    finally:
        for s, h in handlers.items():
            signal.signal(s, h)
        logging.getLogger().handlers = [h for h in logging.getLogger().handlers
                                        if type(h).__name__ != "_SupervisorLog"]
    errors = []
    while link.poll(200):
        msg = m.decode(link.recv_multipart())
        if isinstance(msg, m.LogMessage) and msg.level >= logging.ERROR:
            errors.append(msg.text)
    link.close(0)
    assert any("worker thread died" in e and "ZeroDivisionError" in e for e in errors), errors

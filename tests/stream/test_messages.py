import msgpack
import numpy as np
import pytest
import zmq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stream import messages as m
from stream.bus import BadMessages, receive, send


def _roundtrip(msg):
    parts = m.encode(msg)
    # what copy=False receive hands back: buffers, not the sender's arrays
    return m.decode([bytes(memoryview(p)) for p in parts])


def test_every_kind_round_trips_exactly():
    img = np.arange(6 * 8 * 3, dtype=np.uint8).reshape(6, 8, 3)
    poses = np.array([[1.5, 2.25, 0.9], [np.nan, np.nan, 0.1]], np.float32)
    msgs = [
        m.FrameMessage("cam0", 7, 12, 123456789, img),
        m.Pose2DMessage("cam0", 7, 12, 1, 2, "DLC_x", ("a", "b"), poses),
        m.Pose3DMessage(
            "rig",
            3,
            4,
            5,
            ("a", "b"),
            np.ones((2, 3), np.float32),
            np.full(2, 0.5, np.float32),
            np.zeros(2, np.float32),
            np.full(2, 2, np.int16),
        ),
        m.EndMessage("cam0", 41, 42, "/tmp/x.h5"),
        m.OutputMessage("roi", 3, 100, 105, {"value": 1, "event": "enter", "x": 2.5, "on": True}),
        m.StatsMessage("infer", 9, 29.5, 3.0, 8.5, 2, 1, {"cam0": 100}),
        m.LogMessage("rec", 40, "disk full"),
    ]
    for msg in msgs:
        back = _roundtrip(msg)
        assert type(back) is type(msg) and back.topic == msg.topic
        for name, value in vars(msg).items():
            got = getattr(back, name)
            if isinstance(value, np.ndarray):
                np.testing.assert_array_equal(got, value)
                assert got.dtype == value.dtype
            else:
                assert got == value


def test_frames_travel_without_copies_over_zmq():
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://t")
    b.connect("inproc://t")
    img = np.random.default_rng(0).integers(0, 255, (480, 640, 3), dtype=np.uint8)
    send(a, m.FrameMessage("cam1", 0, 0, 1, img))
    got = receive(b, BadMessages("test"))
    np.testing.assert_array_equal(got.image, img)
    assert not got.image.flags.owndata  # a view on the received zmq buffer
    a.close(), b.close(), ctx.term()


def _header(**fields):
    h = {
        "v": 1,
        "kind": "frame",
        "camera": "c",
        "seq": 0,
        "index": 0,
        "t_capture": 0,
        "bufs": [[[2, 2, 3], "|u1"]],
    }
    h.update(fields)
    return msgpack.packb(h)


@pytest.mark.parametrize(
    "parts, reason",
    [
        ([b"frame.c"], "at least"),
        ([b"frame.c", b"\xc1garbage", bytes(12)], "msgpack"),
        ([b"frame.c", _header(v=2), bytes(12)], "version"),
        ([b"frame.c", _header(kind="pickle"), bytes(12)], "kind"),
        ([b"frame.c", _header(), bytes(11)], "needs 12"),  # truncated buffer
        ([b"frame.c", _header(), bytes(12), bytes(1)], "buffers"),
        ([b"frame.c", _header(bufs=[[[70000, 70000, 3], "|u1"]]), b""], "bad shape"),
        ([b"frame.c", _header(bufs=[[[60000, 60000, 3], "|u1"]]), b""], "exceeds"),  # oversized
        ([b"frame.c", _header(bufs=[[[2, 2, 3], "|O"]]), bytes(12)], "dtype"),
        ([b"frame.c", _header(seq=-1), bytes(12)], "seq"),
        ([b"frame.c", _header(camera=5), bytes(12)], "camera"),
        ([b"frame.x", _header(), bytes(12)], "topic"),
        ([b"frame.c", b"\x00" * (m.MAX_HEADER_BYTES + 1), bytes(12)], "header of"),
    ],
)
def test_bad_messages_raise_message_error(parts, reason):
    with pytest.raises(m.MessageError, match=reason):
        m.decode(parts)


def test_receive_counts_and_drops_bad_messages(caplog):
    ctx = zmq.Context()
    a, b = ctx.socket(zmq.PAIR), ctx.socket(zmq.PAIR)
    a.bind("inproc://bad")
    b.connect("inproc://bad")
    bad = BadMessages("test")
    a.send_multipart([b"frame.c", b"junk"])
    a.send_multipart([b"x"])
    send(a, m.EndMessage("c", 3))
    assert receive(b, bad) is None and receive(b, bad) is None
    assert receive(b, bad) == m.EndMessage("c", 3)
    assert bad.count == 2 and "dropped bad message" in caplog.text
    a.close(), b.close(), ctx.term()


_parts = st.lists(st.binary(max_size=64), min_size=0, max_size=6)


@settings(max_examples=3000, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(_parts)
def test_random_bytes_never_crash_the_decoder(parts):
    try:
        m.decode(parts)
    except m.MessageError:
        pass


_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**63), 2**64 - 1)
    | st.floats()
    | st.text(max_size=8)
    | st.binary(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=4)
    ),
    max_leaves=12,
)


@settings(max_examples=500, deadline=None)
@given(
    st.sampled_from(sorted(m.KINDS)),
    st.dictionaries(
        st.sampled_from(
            [
                "camera",
                "seq",
                "index",
                "t_capture",
                "t_infer",
                "scorer",
                "bodyparts",
                "bufs",
                "node",
                "t",
                "fps",
                "totals",
                "last_seq",
                "frames",
                "path",
                "text",
                "level",
                "group",
                "xyz",
                "p50_ms",
                "p99_ms",
                "drops",
                "queue",
                "t_output",
                "values",
            ]
        ),
        _values,
    ),
    st.lists(st.binary(max_size=48), max_size=5),
)
def test_random_headers_never_crash_the_decoder(kind, fields, buffers):
    """Well-formed msgpack with the right version and kind but arbitrary fields."""
    header = msgpack.packb({"v": 1, "kind": kind, **fields})
    try:
        msg = m.decode([f"{kind}.x".encode(), header, *buffers])
    except m.MessageError:
        return
    assert msg.kind == kind  # whatever passes is a fully typed message

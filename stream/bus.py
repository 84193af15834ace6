"""The bus: every ZeroMQ socket of the runtime is made, read and written here.

A process holds one :class:`Bus`: its zmq context, the sockets it made, and the count of
malformed messages it dropped. Sockets come from typed constructors, one per kind of
link, each with the options that link needs, so a node only says what it sends and
receives:

- ``to_supervisor`` / ``from_nodes``: the supervisor link (stats, logs, end notices);
- ``frames_out`` / ``frames_in``: a source's frames to its inference node;
- ``preview_out`` / ``watch``: live frames (and poses) for viewers, lossy by design;
- ``record_out`` / ``record_in``: live frames for video recorders, buffered in the
  recorder, never holding up the source;
- ``output`` / ``input``: every link past the sources (live: published, any number of
  readers, never blocking; batch: one reader, lossless, with backpressure).

Reading is :meth:`Bus.drain` (wait for the first message, take what is waiting, count
and drop malformed ones) or a :class:`Listener` thread; :class:`StopRequest` is the
stop a signal asks for and the grace that lets in-flight messages still be written.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Callable, Iterator

import zmq

from stream.messages import Message, MessageError, decode, encode

log = logging.getLogger(__name__)

LIVE_SNDHWM = 10000  # published poses are small: a reader may lag this far before losing any
BATCH_HWM = 1000
RECORD_HWM = 8  # frames queued per video recorder on each side of its link
SEND_TIMEOUT_MS = 200  # a blocked lossless send wakes up this often to notice a stop
OUTPUT_LINGER_MS = 30000  # what is queued when a node ends still reaches its reader
POLL_MS = 100
MAX_LEAP = 1 << 20  # frames a stream may skip between two messages (9.7 h at 30 fps)
LOOPBACK = ("127.", "localhost", "[::1]", "::1")


class BadMessages:
    """Counts the messages a process refused (malformed, or not for it) and logs each,
    rate-limited to one line per second; the count goes out in every stats message."""

    def __init__(self, where: str):
        self.where = where
        self.count = 0
        self._last_log = 0.0

    def drop(self, why: MessageError | str) -> None:
        self.count += 1
        t = time.monotonic()
        if t - self._last_log >= 1.0:
            self._last_log = t
            log.warning("%s: dropped bad message #%d: %s", self.where, self.count, why)


class Expect:
    """What a process takes from one input: message `kinds` of the named `streams`, and
    per stream the same bodyparts throughout and indices that move forward by at most
    MAX_LEAP (a hostile index would size a table of billions of rows). `check` adds a
    node's own rule (a reason to refuse, or None). The bus refuses anything else."""

    def __init__(self, kinds: tuple[type, ...], streams: list[str] | None,
                 check: Callable[[Message], str | None] | None = None):
        self.kinds = kinds
        self.streams = None if streams is None else set(streams)
        self.check = check
        self._bodyparts: dict[str, tuple[str, ...]] = {}
        self._newest: dict[str, int] = {}

    def refusal(self, msg: Message) -> str | None:
        """Why `msg` is refused, or None when it is taken (and then remembered)."""
        if not isinstance(msg, self.kinds):
            return f"a {msg.kind} message where {[k.kind for k in self.kinds]} are read"
        stream = msg.stream
        if self.streams is not None and stream not in self.streams:
            return f"{msg.kind} of unknown stream {stream!r:.40}"
        bodyparts = getattr(msg, "bodyparts", None)
        known = self._bodyparts.get(stream)
        if bodyparts is not None and known is not None and bodyparts != known:
            return f"{stream}: bodyparts changed to {list(bodyparts)!r:.80}"
        index = getattr(msg, "index", None)
        newest = self._newest.get(stream, 0)
        if index is not None and index > newest + MAX_LEAP:
            return f"{stream}: index {index} leaps ahead of {newest}"
        why = self.check(msg) if self.check is not None else None
        if why is None:
            if bodyparts is not None:
                self._bodyparts[stream] = bodyparts
            if index is not None:
                self._newest[stream] = max(newest, index)
        return why


def send(sock: zmq.Socket, msg: Message, flags: int = 0) -> None:
    """Send `msg` without copying its arrays."""
    sock.send_multipart(encode(msg), flags=flags, copy=False)


def offer(sock: zmq.Socket, msg: Message) -> bool:
    """Send `msg` if the socket has room now; False (nothing sent) if it has not."""
    try:
        send(sock, msg, zmq.NOBLOCK)
        return True
    except zmq.Again:
        return False


def receive(sock: zmq.Socket, bad: BadMessages, flags: int = 0,
            expect: Expect | None = None) -> Message | None:
    """Receive one message; a malformed one, or one `expect` refuses, is counted in `bad`,
    logged and dropped (None)."""
    parts = sock.recv_multipart(flags=flags, copy=False)
    try:
        msg = decode(parts)
    except MessageError as exc:
        bad.drop(exc)
        return None
    why = expect.refusal(msg) if expect is not None else None
    if why is not None:
        bad.drop(why)
        return None
    return msg


class StopRequest:
    """The stop a signal (SIGINT, SIGTERM) asks for. Until :meth:`grace_over` a node
    keeps draining its inputs, so that what is in flight still gets written."""

    def __init__(self):
        self.requested = False
        self._deadline: float | None = None

    def request(self, *_signal_args) -> None:
        self.requested = True

    def on_signals(self) -> None:
        """Turn SIGINT and SIGTERM into a stop request."""
        signal.signal(signal.SIGINT, self.request)
        signal.signal(signal.SIGTERM, self.request)

    def grace_over(self, grace_s: float) -> bool:
        """True once a stop was requested more than `grace_s` ago."""
        if not self.requested:
            return False
        if self._deadline is None:
            self._deadline = time.monotonic() + grace_s
        return time.monotonic() > self._deadline


class Bus:
    """One process's end of the bus: a zmq context, the sockets made from it, and the
    count of malformed messages received (named `where` in the log)."""

    def __init__(self, where: str):
        self.ctx = zmq.Context()
        self.bad = BadMessages(where)
        self._sockets: list[zmq.Socket] = []
        self._links: list[zmq.Socket] = []  # supervisor links: they keep their own linger

    def _make(self, kind: int, bind: str | None = None, connect: tuple[str, ...] = (),
              subscribe: tuple[bytes, ...] = (), **options: int) -> zmq.Socket:
        sock = self.ctx.socket(kind)
        for key, value in options.items():
            sock.setsockopt(getattr(zmq, key), value)
        for topic in subscribe:
            sock.setsockopt(zmq.SUBSCRIBE, topic)
        if bind:
            host = bind.split("://", 1)[-1].rsplit(":", 1)[0]
            if not host.startswith(LOOPBACK) and not bind.startswith(("ipc://", "inproc://")):
                log.warning("binding %s: any machine that reaches this address can send to "
                            "the rig (the default is 127.0.0.1)", bind)
            sock.bind(bind)
        for endpoint in connect:
            sock.connect(endpoint)
        return sock

    def _data(self, sock: zmq.Socket) -> zmq.Socket:
        self._sockets.append(sock)
        return sock

    # ------------------------------------------------------------ the supervisor link

    def to_supervisor(self, endpoint: str) -> zmq.Socket:
        """A node's link to the supervisor; send on it with NOBLOCK (a full link drops
        stats rather than slowing the node)."""
        sock = self._make(zmq.PUSH, connect=(endpoint,), SNDHWM=BATCH_HWM, LINGER=2000)
        self._links.append(sock)
        return sock

    def from_nodes(self, endpoint: str) -> zmq.Socket:
        """The supervisor's end: every node's stats, logs and end notices."""
        sock = self._make(zmq.PULL, bind=endpoint, LINGER=0)
        self._links.append(sock)
        return sock

    # ------------------------------------------------------------ frames

    def frames_out(self, endpoint: str, mode: str) -> zmq.Socket:
        """A source's frames. Live: room for one frame (send NOBLOCK; a frame the consumer
        has no room for is dropped at once); batch: a few frames of read-ahead, then
        backpressure."""
        live = mode == "live"
        options = {"SNDBUF": 1 << 16} if live else {}  # no stale frames queued in the kernel
        return self._data(self._make(zmq.PUSH, bind=endpoint, SNDHWM=1 if live else 4,
                                     LINGER=OUTPUT_LINGER_MS, SNDTIMEO=SEND_TIMEOUT_MS,
                                     **options))

    def frames_in(self, endpoints: list[str], mode: str) -> zmq.Socket:
        """The frames of every camera, fair-queued (each source binds, the reader connects)."""
        return self._data(self._make(zmq.PULL, connect=tuple(endpoints),
                                     RCVHWM=2 if mode == "live" else 8, LINGER=0))

    def preview_out(self, endpoint: str) -> zmq.Socket:
        """Live frames published for viewers: a slow window loses frames here and never
        takes one from inference."""
        return self._data(self._make(zmq.PUB, bind=endpoint, SNDHWM=2, LINGER=0))

    def record_out(self, endpoint: str) -> zmq.Socket:
        """Live frames published for video recorders (send with :func:`offer`): the
        recorder's receiving thread keeps up with the cameras and buffers the frames
        itself, so this queue is short; a frame it has no room for is dropped at once and
        the recorder counts it from the gap in sequence numbers. ``XPUB_NODROP`` makes a
        full queue visible to the sender (:func:`offer` returns False) instead of losing
        the message silently, so a source can retry its end notice."""
        return self._data(self._make(zmq.PUB, bind=endpoint, SNDHWM=RECORD_HWM, LINGER=1000,
                                     XPUB_NODROP=1))

    def record_in(self, endpoints: list[str]) -> zmq.Socket:
        """A video recorder's subscription to the frames and ends of its sources."""
        return self._data(self._make(zmq.SUB, connect=tuple(endpoints),
                                     subscribe=(b"frame.", b"end."), RCVHWM=RECORD_HWM,
                                     LINGER=0, RECONNECT_IVL=20))

    def watch(self, endpoints: list[str], topics: tuple[bytes, ...]) -> zmq.Socket:
        """A viewer's subscription: only a few messages queued, the newest is what counts."""
        return self._data(self._make(zmq.SUB, connect=tuple(endpoints), subscribe=topics,
                                     RCVHWM=4, LINGER=0))

    # ------------------------------------------------------------ links past the sources

    def output(self, mode: str, endpoint: str) -> zmq.Socket:
        """The bound output of a node past the sources: live, a PUB socket that any number
        of readers subscribe to and that never blocks (a reader further behind than
        LIVE_SNDHWM loses messages); batch, a PUSH socket to one reader, with backpressure
        (send with :meth:`stream.node.Node.send`)."""
        if mode == "live":
            sock = self._make(zmq.PUB, bind=endpoint, SNDHWM=LIVE_SNDHWM,
                              LINGER=OUTPUT_LINGER_MS)
        else:
            sock = self._make(zmq.PUSH, bind=endpoint, SNDHWM=BATCH_HWM,
                              LINGER=OUTPUT_LINGER_MS, SNDTIMEO=SEND_TIMEOUT_MS)
        return self._data(sock)

    def input(self, mode: str, endpoints: list[str], hwm: int = BATCH_HWM) -> zmq.Socket:
        """The input matching :meth:`output`: SUB to everything (live) or PULL (batch),
        connected to every endpoint."""
        if mode == "live":
            sock = self._make(zmq.SUB, connect=tuple(endpoints), subscribe=(b"",), RCVHWM=hwm,
                              LINGER=0, RECONNECT_IVL=20)
        else:
            sock = self._make(zmq.PULL, connect=tuple(endpoints), RCVHWM=hwm, LINGER=0,
                              RECONNECT_IVL=20)
        return self._data(sock)

    # ------------------------------------------------------------ reading

    def drain(self, sock: zmq.Socket, timeout_ms: int, limit: int | None = 1000,
              expect: Expect | None = None) -> Iterator[Message]:
        """The messages waiting on `sock` (at most `limit`, None: all), after waiting up
        to `timeout_ms` for the first; malformed ones, and those `expect` refuses, are
        counted and left out."""
        if not sock.poll(timeout_ms):
            return
        taken = 0
        while limit is None or taken < limit:
            taken += 1
            try:
                msg = receive(sock, self.bad, zmq.NOBLOCK, expect)
            except zmq.Again:
                return
            if msg is not None:
                yield msg

    def close(self, linger: int | None = None) -> None:
        """Close every socket and the context. `linger` (ms) overrides the data sockets'
        own: after a stop, a dead peer must not hold the process for the full linger."""
        for sock in self._sockets:
            sock.close(linger=linger)
        for sock in self._links:
            sock.close()
        self.ctx.term()


class Listener(threading.Thread):
    """Drains one socket on its own thread and hands every message `expect` takes to
    `handle`, until :meth:`close`. If the thread dies, `on_failure` gets the exception
    (a node then stops and exits with an error, so the supervisor reports it)."""

    def __init__(self, bus: Bus, sock: zmq.Socket, handle: Callable[[Message], None],
                 poll_ms: int = POLL_MS, expect: Expect | None = None,
                 on_failure: Callable[[BaseException], None] | None = None):
        super().__init__(daemon=True)
        self.bus = bus
        self.sock = sock
        self.handle = handle
        self.poll_ms = poll_ms
        self.expect = expect
        self.on_failure = on_failure
        self.closed = False

    def run(self) -> None:
        try:
            while not self.closed:
                for msg in self.bus.drain(self.sock, self.poll_ms, expect=self.expect):
                    self.handle(msg)
        except BaseException as exc:
            log.error("%s: receiver thread died: %s: %s", self.bus.bad.where,
                      type(exc).__name__, exc)
            if self.on_failure is not None:
                self.on_failure(exc)

    def close(self) -> None:
        self.closed = True
        self.join()

"""What a viewer shows: the newest frames and 2D poses of every camera and the newest 3D
pose of every triangulation stream, received from the bus on their own thread (tiny
receive queues, only the newest kept), the nodes' latest stats (handed over by the
supervisor that runs the rig), and the skeleton stored in the models."""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from stream import messages as m
from stream.bus import Bus, Expect, Listener

FRAMES_KEPT = 16  # per camera, so that a pose finds the very frame it was computed on
POLL_MS = 50
TOPICS = (b"frame.", b"pose2d.", b"pose3d.", b"end.")


def skeleton_of(models: list[str]) -> list[list[str]]:
    """The skeleton stored in the first model artifact that has one."""
    from train.model.artifact import read_meta

    for model in models:
        skeleton = read_meta(model).skeleton
        if skeleton:
            return [list(edge) for edge in skeleton]
    return []


class ViewState:
    """The newest frames and poses per camera, shared by the receiver and the window."""

    def __init__(self):
        self.lock = threading.Lock()
        self.frames: dict[str, deque[m.FrameMessage]] = {}
        self.poses: dict[str, m.Pose2DMessage] = {}
        self.poses3d: dict[str, m.Pose3DMessage] = {}
        self.stats: dict[str, m.StatsMessage] = {}  # node -> its latest stats
        self.drops: dict[str, int] = {}  # node -> drops over the run
        self.ended: set[str] = set()
        self.received = 0

    def feed(self, msg: m.Message) -> None:
        with self.lock:
            self.received += 1
            if isinstance(msg, m.FrameMessage):
                self.frames.setdefault(msg.camera, deque(maxlen=FRAMES_KEPT)).append(msg)
            elif isinstance(msg, m.Pose2DMessage):
                self.poses[msg.camera] = msg
            elif isinstance(msg, m.Pose3DMessage):
                self.poses3d[msg.group] = msg
            elif isinstance(msg, m.StatsMessage):
                self.stats[msg.node] = msg
                self.drops[msg.node] = self.drops.get(msg.node, 0) + msg.drops
            elif isinstance(msg, m.EndMessage):
                self.ended.add(msg.camera)

    def newest_3d(self) -> tuple[dict[str, m.Pose3DMessage], dict[str, m.StatsMessage],
                                 dict[str, int]]:
        """The newest 3D pose per stream, the latest stats and the total drops per node."""
        with self.lock:
            return dict(self.poses3d), dict(self.stats), dict(self.drops)

    def newest(self) -> dict[str, tuple[m.FrameMessage | None, m.Pose2DMessage | None]]:
        """Per camera: the frame to show and its pose (the pose's own frame when it is
        still at hand, else the newest frame)."""
        with self.lock:
            out = {}
            for camera in sorted(set(self.frames) | set(self.poses)):
                pose = self.poses.get(camera)
                frames = self.frames.get(camera, ())
                frame = frames[-1] if frames else None
                if pose is not None:
                    frame = next((f for f in frames if f.seq == pose.seq), frame)
                out[camera] = (frame, pose)
            return out


class Receiver(Listener):
    """Subscribes to frames, 2D and 3D poses and ends of `cameras` (None: any) on
    `endpoints` and feeds `state`, on its own thread; with no `bus` given it makes (and
    closes) its own. If the thread dies, `on_failure` is told."""

    def __init__(self, endpoints: list[str], state: ViewState, bus: Bus | None = None,
                 cameras: list[str] | None = None,
                 on_failure: Callable[[BaseException], None] | None = None):
        self._own_bus = bus is None
        bus = bus or Bus("viewer")
        expect = Expect((m.FrameMessage, m.Pose2DMessage, m.Pose3DMessage, m.EndMessage),
                        cameras)
        super().__init__(bus, bus.watch(endpoints, TOPICS), state.feed, POLL_MS, expect,
                         on_failure)
        self.state = state

    def close(self) -> None:
        super().close()
        if self._own_bus:
            self.bus.close()

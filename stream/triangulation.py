"""The triangulation node: synced 2D groups in, 3D poses out.

Each :class:`~stream.messages.Group2DMessage` is triangulated with calib's likelihood-weighted
DLT (optionally its robust variant): views whose likelihood is under ``pcutoff`` and
cameras absent from a partial group are left out; a point seen by fewer than two usable
views is NaN. Every point carries its score (mean likelihood of the views used), mean
reprojection error (px) and number of cameras used.
"""

from __future__ import annotations

import logging

import numpy as np

from stream import messages as m
from stream.bus import Expect
from stream.rig import TriangulateSpec

log = logging.getLogger(__name__)

POLL_MS = 50
STOP_GRACE_S = 3.0


class Lifter:
    """Turns groups into :class:`~stream.messages.Pose3DMessage` with a fixed calibration."""

    def __init__(self, spec: TriangulateSpec):
        from calib.calibration import load_calibration
        from calib.triangulate import Triangulator

        calibration = load_calibration(spec.calibration)
        self.spec = spec
        self.cameras = tuple(spec.cameras)
        cams = [calibration.camera(name) for name in spec.calib_cameras]
        self.triangulator = Triangulator(cams)

    def refusal(self, msg: m.Message) -> str | None:
        """Why a group cannot be triangulated here (other cameras), or None."""
        if isinstance(msg, m.Group2DMessage) and msg.cameras != self.cameras:
            return f"group {msg.seq} of cameras {list(msg.cameras)}, expected {list(self.cameras)}"
        return None

    def __call__(self, group: m.Group2DMessage) -> m.Pose3DMessage:
        """The 3D pose of `group` (of this node's cameras)."""
        result = self.triangulator.triangulate(
            group.poses[..., :2],
            np.nan_to_num(group.poses[..., 2], nan=0.0),
            pcutoff=self.spec.pcutoff,
            robust=self.spec.robust,
            threshold=self.spec.threshold_px,
        )
        return m.Pose3DMessage(
            self.spec.name,
            group.seq,
            group.index,
            group.t_capture,
            group.bodyparts,
            result.xyz.astype(np.float32),
            result.score.astype(np.float32),
            result.reprojection_error.astype(np.float32),
            result.n_cameras.astype(np.int16),
        )


def run(spec: TriangulateSpec, node) -> None:
    inp = node.bus.input(spec.mode, spec.input_endpoints)
    out = node.bus.output(spec.mode, spec.endpoint)
    lifter = Lifter(spec)
    expect = Expect((m.Group2DMessage, m.EndMessage), spec.inputs, lifter.refusal)
    node.ready()
    last_seq = -1
    ended = False
    while not ended:
        if node.stop.grace_over(STOP_GRACE_S):
            log.warning("%s: stopped before its input ended", spec.name)
            break
        for msg in node.bus.drain(inp, POLL_MS, expect=expect):
            if isinstance(msg, m.Group2DMessage):
                pose = lifter(msg)
                node.send(out, pose)
                node.stats.frame(spec.name, msg.t_capture)
                last_seq = pose.seq
            elif isinstance(msg, m.EndMessage):
                ended = True
                last_seq = msg.last_seq
                break
        node.stats.tick()
    node.send(out, m.EndMessage(spec.name, last_seq))

"""The triangulation node: synced 2D groups in, 3D poses out.

Each :class:`~stream.messages.Group2DMessage` is triangulated with calib's likelihood-weighted
DLT (optionally its robust variant): views whose likelihood is under ``pcutoff`` and
cameras absent from a partial group are left out; a point seen by fewer than two usable
views is NaN. Every point carries its score (mean likelihood of the views used), mean
reprojection error (px) and number of cameras used. Several animals are first matched
across cameras (epipolar consistency with the first camera's animals, whose rows, kept
frame to frame by live tracking, name the 3D individuals), then triangulated together.
"""

from __future__ import annotations

import logging

import numpy as np

from stream import messages as m
from stream.bus import Expect
from stream.node_specs import TriangulateSpec

log = logging.getLogger(__name__)

POLL_MS = 50
MATCH_FACTOR = 3.0  # animals match across cameras within this many threshold_px
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
        # several animals: each camera's rows -> 3D rows, as last matched (see match)
        self.rows: dict[int, np.ndarray] = {}

    def refusal(self, msg: m.Message) -> str | None:
        """Why a group cannot be triangulated here (other cameras), or None."""
        if isinstance(msg, m.Group2DMessage) and msg.cameras != self.cameras:
            return f"group {msg.seq} of cameras {list(msg.cameras)}, expected {list(self.cameras)}"
        return None

    def __call__(self, group: m.Group2DMessage) -> m.Pose3DMessage:
        """The 3D pose of `group` (of this node's cameras)."""
        poses = group.poses
        if group.individuals:
            poses = self.match(poses)
        result = self.triangulator.triangulate(
            poses[..., :2],
            np.nan_to_num(poses[..., 2], nan=0.0),
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
            group.individuals,
        )

    def match(self, poses: np.ndarray) -> np.ndarray:
        """Several animals ``(C, I, K, 3)``: each camera's rows reordered to the 3D rows,
        matched by epipolar consistency (:func:`calib.epipolar.match_animals`, pairs
        farther than ``MATCH_FACTOR * threshold_px`` apart left out, NaN).

        The 3D rows are the first camera's rows (live tracking keeps them frame to
        frame). Each other camera's rows are remembered as last matched, so that when the
        first camera is absent from a group or misses an animal, the animals the other
        cameras see keep their 3D rows: the first camera that sees an animal is then the
        reference, its rows placed where they were last matched."""
        from calib.epipolar import match_animals

        n_cam, n_ind = poses.shape[:2]
        visible = np.isfinite(poses[..., :2]).all(-1) & (np.nan_to_num(poses[..., 2])
                                                         >= self.spec.pcutoff)
        seen = visible.any(-1)  # (C, I)
        if not seen.any():
            return np.full_like(poses, np.nan)
        ref = int(np.flatnonzero(seen.any(-1))[0])
        order = match_animals(self.triangulator.cameras, poses[..., :2], visible,
                              MATCH_FACTOR * self.spec.threshold_px, reference=ref)
        slot_of_ref = self._slots(ref, n_ind)
        referenced = set(slot_of_ref[seen[ref]].tolist())  # 3D rows the reference sees
        out = np.full_like(poses, np.nan)
        for c in range(n_cam):
            slots = np.full(n_ind, -1)  # camera c's row -> 3D row
            for i, row in enumerate(order[c]):
                if row >= 0 and seen[ref, i]:
                    slots[row] = slot_of_ref[i]
            if c:
                known = self.rows.get(c, np.full(n_ind, -1))
                for row in np.flatnonzero(seen[c] & (slots < 0) & (known >= 0)):
                    if known[row] not in referenced and known[row] not in slots:
                        slots[row] = known[row]  # an animal the reference does not see
                remembered = slots.copy()
                for row in np.flatnonzero(slots < 0):
                    if known[row] >= 0 and known[row] not in remembered:
                        remembered[row] = known[row]
                self.rows[c] = remembered
            mine = np.flatnonzero(slots >= 0)
            out[c, slots[mine]] = poses[c, mine]
        return out

    def _slots(self, camera: int, n: int) -> np.ndarray:
        """3D row of each of `camera`'s rows: its own row for the first camera, else as
        last matched (rows never matched take the free 3D rows in order)."""
        if camera == 0:
            return np.arange(n)
        slots = self.rows.get(camera, np.full(n, -1)).copy()
        free = iter(s for s in range(n) if s not in slots)
        for row in np.flatnonzero(slots < 0):
            slots[row] = next(free)
        return slots


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

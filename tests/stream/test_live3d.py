"""Multi-camera 3D in the runtime: known 3D motion seen by a virtual calibrated rig, as
per-camera 2D poses with noise and likelihoods, through real sync and triangulation
processes over ZeroMQ into a real recorder; the recorded 3D is checked against the truth."""

import threading

import numpy as np
import zmq

from calib.calibration import save_calibration
from calib.virtual_rig import WALKING_PARTS, make_rig, observe_points, walking_animal
from stream import messages as m
from stream.bus import send
from stream.node_specs import RecorderSpec, SyncSpec, TriangulateSpec
from stream.recording import read_recording, recording3d_path
from stream.rig import free_endpoint
from stream.supervisor import Supervisor
from train.data.tables import poses3d_path, read_poses3d

BODYPARTS = WALKING_PARTS
NOISE_PX = 0.5
DROPPED = {"cam2": {5, 6, 17, 30}}  # frames camera 2 never delivered
N_FRAMES = 40


def test_sync_and_triangulate_processes_recover_the_3d_motion(tmp_path):
    rig, arena_to_world = make_rig(3, seed=1)
    calibration = save_calibration(rig, tmp_path / "calibration.toml")
    truth = walking_animal(arena_to_world, N_FRAMES)
    poses = observe_points(rig, truth, NOISE_PX)
    cameras = rig.names
    feed = free_endpoint()
    sync = SyncSpec("sync", ["pose"], endpoint=free_endpoint(), mode="batch",
                    input_endpoints=[feed], cameras=cameras)
    tri = TriangulateSpec("tri", ["sync"], str(calibration), pcutoff=0.5,
                          calib_cameras=cameras, endpoint=free_endpoint(), mode="batch",
                          input_endpoints=[sync.endpoint], cameras=cameras)
    rec = RecorderSpec("rec", ["tri"], folder=str(tmp_path / "rec"), flush_s=0.2,
                       input_endpoints=[tri.endpoint], cameras=["tri"], mode="batch")
    ctx = zmq.Context()
    push = ctx.socket(zmq.PUSH)
    push.bind(feed)  # bound before the nodes start, so sync connects at once
    seen: list[m.Message] = []
    sup = Supervisor([("recorder", rec), ("triangulate", tri), ("sync", sync)],
                     free_endpoint(), 0.2, on_message=seen.append, print_stats=False)
    runner = threading.Thread(target=sup.run)
    runner.start()
    try:
        t0 = m.now_ns()
        for i in range(N_FRAMES):
            for cam in cameras:
                if i in DROPPED.get(cam, ()):
                    continue
                stamp = t0 + i * 33_000_000
                send(push, m.Pose2DMessage(cam, i, i, stamp, stamp, "DLC_virtual", BODYPARTS,
                                       poses[cam][i]))
        for cam in cameras:
            send(push, m.EndMessage(cam, N_FRAMES - 1))
        runner.join(timeout=120)
    finally:
        push.close(linger=0)
        ctx.term()
    assert not runner.is_alive()

    rec3d = read_recording(recording3d_path(rec.folder, "tri"))
    np.testing.assert_array_equal(rec3d["index"], np.arange(N_FRAMES))  # no instant lost
    err = np.linalg.norm(rec3d["xyz"] - truth, axis=-1)  # mm
    assert np.isfinite(err).all()
    # 0.5 px noise at ~1 m with f ~ 500 px is ~1 mm per view
    assert np.median(err) < 1.5 and err.max() < 6.0, (np.median(err), err.max())
    expected = np.full((N_FRAMES, len(BODYPARTS)), 3)
    expected[list(DROPPED["cam2"])] = 2  # partial groups: camera 2 absent
    expected[::7, 0] -= 1  # camera 1's wrong snout is under pcutoff: left out
    np.testing.assert_array_equal(rec3d["n_cameras"], expected)
    assert (rec3d["reprojection_error"] < 4 * NOISE_PX).all()  # the wrong detections never got in

    stats = [s for s in seen if isinstance(s, m.StatsMessage) and s.node == "sync"]
    assert stats[-1].totals["partial"] == len(DROPPED["cam2"])
    assert stats[-1].totals["groups"] == N_FRAMES

    table, scorer = read_poses3d(poses3d_path("tri", rec.folder))
    assert scorer == "tri" and table.bodyparts == BODYPARTS and table.n_frames == N_FRAMES
    np.testing.assert_allclose(table.xyz, rec3d["xyz"], atol=1e-3)
    np.testing.assert_array_equal(table.n_cameras, expected)


def _pose(cam: str, index: int, stamp_ms: float) -> m.Pose2DMessage:
    p = np.full((len(BODYPARTS), 3), index, np.float32)
    return m.Pose2DMessage(cam, index, index, int(stamp_ms * 1e6), 0, "s", BODYPARTS, p)


def test_grouper_by_timestamp_with_jitter_and_a_dropped_frame():
    from stream.sync import Grouper

    g = Grouper("sync", ["a", "b"], by="timestamp", tolerance_ms=5)
    out = []
    rng = np.random.default_rng(0)
    for i in range(10):
        for cam in ("a", "b"):
            if cam == "b" and i == 4:
                continue  # b dropped frame 4
            out += g.add(_pose(cam, i, 100 + 33.3 * i + rng.uniform(-2, 2)), 0.0)
    out += g.end("a", 0.0) + g.end("b", 0.0)
    assert [x.index for x in out] == list(range(10))
    assert [x.present for x in out if x.partial] == [("a",)]
    assert out[4].index == 4 and np.isnan(out[4].poses[1]).all() and out[4].indices[1] == -1
    assert g.counts() == {"groups": 10, "partial": 1, "late": 0}
    complete = [x for x in out if not x.partial]
    assert all((x.poses[0] == x.poses[1]).all() for x in complete)  # same instant together


def test_grouper_live_bounded_wait_and_late_poses():
    from stream.sync import Grouper

    g = Grouper("sync", ["a", "b", "c"], by="index", max_wait_s=0.1)
    assert g.add(_pose("a", 0, 0), 0.0) == [] and g.add(_pose("b", 0, 0), 0.01) == []
    assert g.ready(0.05) == []  # c may still come
    (group,) = g.ready(0.2)  # c never did: the group leaves partial, nothing stalls
    assert group.present == ("a", "b") and group.partial
    assert g.add(_pose("c", 0, 0), 0.3) == [] and g.late == 1  # too late: dropped, counted
    # a camera that has moved on releases older groups at once
    assert g.add(_pose("a", 1, 33), 0.4) == [] and g.add(_pose("b", 2, 66), 0.4) == []
    (group,) = g.add(_pose("c", 2, 66), 0.4)  # b and c are past frame 1: it leaves
    assert group.index == 1 and group.present == ("a",)
    (group,) = g.add(_pose("a", 2, 66), 0.4)  # frame 2 complete
    assert group.index == 2 and not group.partial


def test_grouper_holds_at_most_max_pending():
    from stream.sync import Grouper

    g = Grouper("sync", ["a", "b"], by="index", max_pending=3)
    out = []
    for i in range(10):
        out += g.add(_pose("a", i, 0), 0.0)  # b is silent, never ends
    assert len(g.pending) == 3 and [x.index for x in out] == list(range(7))

"""The live viewer: real Qt widgets (offscreen) fed real messages over ZeroMQ."""

import os
import time
from pathlib import Path

import numpy as np
import pytest
import zmq

from stream import messages as m
from stream.bus import send
from stream.rig import free_endpoint
from train.data.tables import poses3d_path
from train.synth.animal import BODYPARTS, SKELETON, SynthConfig, SyntheticAnimal

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
SHOTS = Path(__file__).resolve().parents[2] / "test-screenshots"


def _messages(camera: str, seed: int, seq: int):
    animal = SyntheticAnimal(SynthConfig(width=320, height=240, n_frames=seq + 1, seed=seed))
    lik = np.linspace(0.15, 1.0, len(BODYPARTS), dtype=np.float32)
    poses = np.concatenate([animal.keypoints(seq), lik[:, None]], 1).astype(np.float32)
    t = m.now_ns()
    frame = m.FrameMessage(camera, seq, seq, t, animal.render(seq))
    return frame, m.Pose2DMessage(camera, seq, seq, t, t, "DLC_synth", BODYPARTS, poses)


def test_viewer_draws_newest_frames_and_poses_from_zmq(qt_app):
    from stream.viewer.feed import Receiver, ViewState
    from stream.viewer.window import LiveView

    endpoint = free_endpoint()
    ctx = zmq.Context()
    pub = ctx.socket(zmq.PUB)
    pub.bind(endpoint)
    state = ViewState()
    receiver = Receiver([endpoint], state)
    receiver.start()
    view = LiveView(state, skeleton=[list(e) for e in SKELETON], pcutoff=0.3, refresh_hz=50)
    view.resize(900, 360)
    view.show()
    msgs = {cam: _messages(cam, seed, 7) for seed, cam in enumerate(("cam0", "cam1"))}
    try:
        deadline = time.monotonic() + 20
        while len(state.poses) < 2 or len(state.frames) < 2:
            assert time.monotonic() < deadline, "viewer never received the messages"
            for frame, pose in msgs.values():  # PUB drops until the SUB has joined
                send(pub, frame)
                send(pub, pose)
            qt_app.processEvents()
            time.sleep(0.05)
        end = time.monotonic() + 0.5
        while time.monotonic() < end:  # let the timer redraw, as it would live
            qt_app.processEvents()
            time.sleep(0.02)
        assert view.drawn > 0 and sorted(view.views) == ["cam0", "cam1"]
        for cam, (frame, pose) in msgs.items():
            panel = view.views[cam]
            np.testing.assert_array_equal(panel.image.image, frame.image[..., ::-1])
            xs, ys = panel.points.getData()
            np.testing.assert_allclose(xs, pose.poses[:, 0] + 0.5, atol=1e-4)
            np.testing.assert_allclose(ys, pose.poses[:, 1] + 0.5, atol=1e-4)
            alphas = [b.color().alpha() for b in panel.points.data["brush"]]
            assert alphas == sorted(alphas) and alphas[0] < alphas[-1]  # likelihood -> alpha
            # skeleton edges whose ends both pass pcutoff, as line pairs
            keep = [e for e in SKELETON
                    if min(pose.poses[BODYPARTS.index(p), 2] for p in e) >= 0.3]
            assert len(panel.lines.getData()[0]) == 2 * len(keep)
        SHOTS.mkdir(exist_ok=True)
        shot = SHOTS / "viewer_two_cameras.png"
        assert view.grab().save(str(shot))
        assert shot.stat().st_size > 1000
    finally:
        view.close()
        receiver.close()
        pub.close(linger=0)
        ctx.term()


@pytest.fixture
def qt_app():
    from stream.viewer.window import app

    return app()


def test_view_runs_a_live_3d_rig_with_fan_out(tmp_path, tiny_model, qt_app):
    """`poseloop view rig.toml`: the rig runs in the background (sources -> inference ->
    recorder + sync + a [[viewer]] node; sync -> triangulate -> recorder) and the window
    shows it; every file is closed when the input ends."""
    from calib.calibration import save_calibration
    from calib.virtual_rig import make_rig
    from stream.recording import read_recording, recording3d_path, recording_path
    from stream.viewer import view

    save_calibration(make_rig(2, seed=0)[0], tmp_path / "calibration.toml")
    cams = "".join(
        f'[[source]]\nname = "cam{i}"\nkind = "synthetic"\nfps = 30\nmax_frames = 45\n'
        f"width = 160\nheight = 120\nseed = {i}\n"
        for i in range(2)
    )
    (tmp_path / "rig.toml").write_text(
        f'mode = "live"\n{cams}'
        f'[[inference]]\nname = "pose"\nmodel = "{tiny_model}"\ninputs = ["cam0", "cam1"]\n'
        "batch_size = 2\nthreads = 1\n"
        '[[sync]]\nname = "sync"\ninputs = ["pose"]\nmax_wait_ms = 200\n'
        '[[triangulate]]\nname = "tri"\ninputs = ["sync"]\ncalibration = "calibration.toml"\n'
        "pcutoff = 0.0\n"
        '[[recorder]]\nname = "rec"\ninputs = ["pose", "tri"]\nfolder = "rec"\n'
        '[[viewer]]\nname = "window"\ninputs = ["pose"]\n'
    )
    drawn = view([str(tmp_path / "rig.toml")], close_when_done=True)
    assert drawn > 0
    rows = {c: len(read_recording(recording_path(tmp_path / "rec", c))["index"])
            for c in ("cam0", "cam1")}
    assert all(n > 0 for n in rows.values()), rows
    rec3d = read_recording(recording3d_path(tmp_path / "rec", "tri"))
    assert 0 < len(rec3d["index"]) <= 45 and np.all(np.diff(rec3d["index"]) > 0)
    assert poses3d_path("tri", tmp_path / "rec").exists()


def test_qt_calls_keep_none_alive(qt_app):
    """The viewer loop calls Qt methods that return nothing hundreds of times a second;
    a binding that drops a reference to None on each (PySide6 6.12.0 on Python < 3.12)
    aborts the viewer process after a few thousand."""
    import sys

    before = sys.getrefcount(None)
    for _ in range(1000):
        qt_app.processEvents()
    assert sys.getrefcount(None) >= before - 100


def test_viewer_node_shows_every_node_stats(tmp_path, tiny_model):
    """A ``[[viewer]]`` node, a process of its own, gets every node's stats from the
    supervisor and shows them in its panel (frames/s, latency, drops, queue per node);
    its last table is in its log."""
    from stream.supervisor import run_rig

    cams = "".join(
        f'[[source]]\nname = "cam{i}"\nkind = "synthetic"\nfps = 30\nmax_frames = 40\n'
        f"width = 160\nheight = 120\nseed = {i}\n" for i in range(2))
    (tmp_path / "rig.toml").write_text(
        f'mode = "live"\nstats_interval = 0.2\n{cams}'
        f'[[inference]]\nname = "pose"\nmodel = "{tiny_model}"\ninputs = ["cam0", "cam1"]\n'
        "threads = 1\n"
        '[[viewer]]\nname = "window"\ninputs = ["pose"]\n')
    logs: list[str] = []
    run_rig(tmp_path / "rig.toml", print_stats=False, on_message=lambda msg: logs.append(
        msg.text) if isinstance(msg, m.LogMessage) and msg.node == "window" else None)
    (panel,) = [text for text in logs if "stats panel" in text]
    rows = {line.split()[0]: line.split()[1:] for line in panel.splitlines()[1:]}
    assert {"cam0", "cam1", "pose"} <= set(rows), panel
    numbers = {node: [float(v) for v in cells] for node, cells in rows.items()}
    assert all(len(cells) == 5 for cells in numbers.values()), panel
    assert any(cells[0] > 0 for cells in numbers.values()), panel  # frames/s

import logging

import numpy as np
import pytest

from stream import messages as m
from stream.instants import InstantPicker
from stream.supervisor import run_rig
from stream.sync import Grouper

IMG = np.zeros((4, 4, 3), np.uint8)
PERIOD = 33_333_333


def frame(camera, k, jitter_ns=0):
    return m.FrameMessage(camera, k, k, 10**12 + k * PERIOD + jitter_ns, IMG)


@pytest.mark.parametrize("by", ["index", "timestamp"])
def test_picks_the_newest_instant_every_camera_has(by):
    rng = np.random.default_rng(0)
    picker = InstantPicker("pose", ["a", "b", "c"], by, tolerance_ms=7)
    for k in range(5):
        for cam in ("a", "b", "c"):
            if cam == "c" and k == 4:
                continue  # c is one frame behind
            picker.add(frame(cam, k, int(rng.uniform(-3e6, 3e6))), now=k * 0.033)
    group = picker.take(picker.complete(now=0.15))
    assert sorted(f.camera for f in group) == ["a", "b", "c"]
    assert {f.index for f in group} == {3}
    # everything at or before the instant not taken counts as skipped, exactly
    assert dict(picker.skipped) == {"a": 3, "b": 3, "c": 3}
    assert len(picker) == 2  # frame 4 of a and b wait for c


def test_a_stopped_camera_is_named_and_no_longer_waited_for(caplog):
    picker = InstantPicker("pose", ["a", "b", "c"], "index", stale_ms=500)
    for k in range(3):
        for cam in ("a", "b", "c"):
            picker.add(frame(cam, k), now=k * 0.033)
    picker.take(picker.complete(now=0.1))
    with caplog.at_level(logging.WARNING):
        for k in range(3, 40):
            for cam in ("a", "b"):
                picker.add(frame(cam, k), now=k * 0.033)
        group = picker.complete(now=39 * 0.033)
    assert sorted(f.camera for f in group) == ["a", "b"]
    assert "camera c stopped" in caplog.text and "going on with a, b" in caplog.text
    picker.add(frame("c", 40), now=1.4)
    assert "c" in picker.running(now=1.4)


def test_three_cameras_into_a_half_rate_network_give_complete_instants(tmp_path, slow_model):
    """3 synthetic cameras at 30 fps with +-3 ms capture jitter into an inference node that
    manages about half that rate: the instants the sync node's grouping makes of the
    recorded poses are (nearly) all complete."""
    text = 'mode = "live"\n'
    for c in range(3):
        text += (f'[[source]]\nname = "cam{c}"\nkind = "synthetic"\nfps = 30\nmax_frames = 90\n'
                 f"width = 320\nheight = 240\nseed = {c}\njitter_ms = 3\n")
    text += (f'[[inference]]\nname = "pose"\nmodel = "{slow_model}"\n'
             'inputs = ["cam0", "cam1", "cam2"]\nbatch_size = 3\nthreads = 1\n'
             'in_step = "timestamp"\ntolerance_ms = 8\nmax_wait_ms = 20\n'
             '[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec"\n')
    rig = tmp_path / "rig.toml"
    rig.write_text(text)
    run_rig(rig, print_stats=False)
    from stream.recording import read_recording, recording_path

    recs = [read_recording(recording_path(tmp_path / "rec", f"cam{c}")) for c in range(3)]
    grouper = Grouper("check", ["cam0", "cam1", "cam2"], "timestamp", tolerance_ms=8)
    poses = []
    for c, rec in enumerate(recs):
        for k in range(len(rec["index"])):
            poses.append(m.Pose2DMessage(f"cam{c}", k, int(rec["index"][k]), int(rec["t_capture"][k]),
                                   0, "s", ("head", "tail"), rec["poses"][k]))
    groups = []
    for pose in sorted(poses, key=lambda p: p.t_capture):
        groups += grouper.add(pose, 0.0)
    for c in range(3):
        groups += grouper.end(f"cam{c}", 0.0)
    complete = sum(not g.partial for g in groups)
    processed = min(len(r["index"]) for r in recs)
    assert processed < 80, "the network must be slower than the cameras for this test"
    assert complete / len(groups) >= 0.95, (complete, len(groups))

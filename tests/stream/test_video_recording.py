"""Video recording: the frames of live sources into fragmented MP4 files and frame
tables, decoded back with OpenCV (not the PyAV that wrote them)."""

import os
import signal
import subprocess
import sys

import cv2
import numpy as np
import pytest

from calib.errors import ConfigError
from stream import messages as m
from stream.recording import read_recording, recording_path
from stream.supervisor import run_rig
from stream.video_recording import (
    VideoRecording,
    frame_table_path,
    read_frame_table,
    video_path,
)
from tests.conftest import ROOT
from train.synth.animal import SynthConfig, SyntheticAnimal

PSNR_DB = 35.0  # the bound, on camera frames at the default quality
# the synthetic animal's per-pixel noise costs H.264 at crf 18 about 35 dB: enough to tell
# a frame from its neighbours, which is what the synthetic tests check
SAME_FRAME_DB = 30.0


def decode(path) -> list[np.ndarray]:
    cap = cv2.VideoCapture(str(path))
    frames = []
    ok, frame = cap.read()
    while ok:
        frames.append(frame)
        ok, frame = cap.read()
    cap.release()
    return frames


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else 10 * np.log10(255.0**2 / mse)


def animal(n: int, seed: int = 0) -> SyntheticAnimal:
    return SyntheticAnimal(SynthConfig(width=320, height=240, n_frames=n, fps=30.0, seed=seed))


def record(folder, msgs, codec: str = "h264") -> list[np.ndarray]:
    rec = VideoRecording(folder, "cam0", 30.0, codec)
    for msg in msgs:
        assert rec.add(msg)
    rec.close()
    return decode(video_path(folder, "cam0"))


def same_frame(decoded: np.ndarray, clip: SyntheticAnimal, i: int) -> bool:
    """The decoded frame is clip frame `i`, not a neighbour: nearer to it than to either."""
    near = psnr(decoded, clip.render(i))
    return near >= SAME_FRAME_DB and all(
        near > psnr(decoded, clip.render(j)) for j in (i - 1, i + 1) if 0 <= j < len(clip))


@pytest.mark.parametrize("codec", ["h264", "mjpeg"])
def test_every_frame_decodes_in_order_with_its_stamps(tmp_path, codec):
    clip = animal(40)
    indices = [i for i in range(40) if i not in (7, 8, 20)]  # frames the recorder never got
    msgs = [m.FrameMessage("cam0", seq, i, 1_000_000_000 + 33_000_000 * i, clip.render(i))
            for seq, i in enumerate(indices)]
    rec = VideoRecording(tmp_path, "cam0", 30.0, codec)
    for msg in msgs:
        assert rec.add(msg)
    assert not rec.add(msgs[3])  # an index that does not grow is refused, not written
    rec.close()
    frames = decode(video_path(tmp_path, "cam0"))
    assert len(frames) == len(msgs)
    assert all(same_frame(f, clip, msg.index) for f, msg in zip(frames, msgs, strict=True))
    table = read_frame_table(frame_table_path(tmp_path, "cam0"))
    np.testing.assert_array_equal(table["frame"], np.arange(len(msgs)))
    np.testing.assert_array_equal(table["index"], [msg.index for msg in msgs])
    np.testing.assert_array_equal(table["seq"], [msg.seq for msg in msgs])
    np.testing.assert_array_equal(table["t_capture"], [msg.t_capture for msg in msgs])


@pytest.mark.parametrize("codec", ["h264", "mjpeg"])
def test_camera_frames_within_35_db_at_the_default_quality(tmp_path, openfield, reaching, codec):
    """Real camera frames: openfield's 640x480 video and Reaching's 832x747 frames (odd
    height: the video gets one more row)."""
    cap = cv2.VideoCapture(str(openfield / "videos" / "m3v1mp4.mp4"))
    images = [cap.read()[1] for _ in range(30)]
    cap.release()
    frames = [cv2.imread(str(p)) for p in sorted((reaching / "labeled-data").glob("*/img*.png"))]
    images += [f for f in frames if f.shape == (747, 832, 3)][:15]  # one camera's frames
    for name, part in (("openfield", images[:30]), ("reaching", images[30:])):
        msgs = [m.FrameMessage("cam0", i, i, i, im) for i, im in enumerate(part)]
        frames = record(tmp_path / name, msgs, codec)
        assert len(frames) == len(msgs)
        h, w = part[0].shape[:2]
        worst = min(psnr(f[:h, :w], im) for f, im in zip(frames, part, strict=True))
        assert worst >= PSNR_DB, f"{name} {codec}: worst frame {worst:.1f} dB"


KILLED = """
import os, signal, sys
from stream import messages as m
from stream.video_recording import VideoRecording
from train.synth.animal import SynthConfig, SyntheticAnimal
clip = SyntheticAnimal(SynthConfig(width=320, height=240, n_frames=100, fps=30.0))
rec = VideoRecording(sys.argv[1], "cam0", 30.0, "h264", keyframe_s=1.0)
for i in range(100):
    rec.add(m.FrameMessage("cam0", i, i, i, clip.render(i)))
os.kill(os.getpid(), signal.SIGKILL)
"""


def test_sigkilled_recorder_leaves_a_playable_file_and_its_table(tmp_path):
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.run([sys.executable, "-c", KILLED, str(tmp_path)], env=env)
    assert proc.returncode == -signal.SIGKILL
    frames = decode(video_path(tmp_path, "cam0"))
    table = read_frame_table(frame_table_path(tmp_path, "cam0"))
    # keyframes every 30 frames: everything before the last one (frame 90) is on disk
    assert 90 <= len(frames) < 100
    np.testing.assert_array_equal(table["index"], np.arange(len(table["index"])))
    assert len(table["index"]) <= len(frames)
    clip = animal(100)
    assert all(same_frame(f, clip, i) for i, f in enumerate(frames))


def _live_rig(tmp_path, model, extra: str = "") -> str:
    path = tmp_path / "rig.toml"
    path.write_text(
        'mode = "live"\n'
        '[[source]]\nname = "cam0"\nkind = "synthetic"\nfps = 30\nmax_frames = 45\n'
        f'[[inference]]\nname = "pose"\nmodel = "{model}"\ninputs = ["cam0"]\n'
        "batch_size = 1\nthreads = 1\n"
        '[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec"\ntables = false\n'
        '[[video]]\nname = "vid"\ninputs = ["cam0"]\nfolder = "rec"\n' + extra
    )
    return path


def test_live_rig_records_every_frame_but_the_counted_ones(tmp_path, tiny_model):
    ends = []
    run_rig(_live_rig(tmp_path, tiny_model), print_stats=False,
            on_message=lambda msg: ends.append(msg) if isinstance(msg, m.EndMessage) else None)
    end = next(e for e in ends if e.path.endswith(".mp4"))
    frames = decode(video_path(tmp_path / "rec", "cam0"))
    table = read_frame_table(frame_table_path(tmp_path / "rec", "cam0"))
    produced = end.last_seq + 1
    assert produced == 45 and end.frames == len(frames) == len(table["index"])
    # what is missing (lost on a loaded machine before the recorder took it) is counted:
    # every frame the video holds is one the source produced, in order
    assert 0 < end.frames <= produced
    assert np.all(np.diff(table["seq"]) > 0) and table["seq"][-1] < produced
    clip = animal(45)
    assert all(same_frame(f, clip, i % 45) for f, i in zip(frames, table["index"], strict=True))
    # frame k of the video is the pose table's row of the same frame, with the same stamp
    poses = read_recording(recording_path(tmp_path / "rec", "cam0"))
    common, in_video, in_poses = np.intersect1d(table["index"], poses["index"],
                                                return_indices=True)
    assert len(common) >= 1
    np.testing.assert_array_equal(table["t_capture"][in_video], poses["t_capture"][in_poses])


@pytest.mark.parametrize(("extra", "field"), [
    ('codec = "vp9"\n', "codec"),
    ("crf = 60\n", "crf"),
    ("buffer_s = 0\n", "buffer_s"),
])
def test_video_rig_errors_name_the_field(tmp_path, tiny_model, extra, field):
    from stream.rig import load_rig

    with pytest.raises(ConfigError, match=f"video\\[0\\] \\(vid\\): field '{field}'"):
        load_rig(_live_rig(tmp_path, tiny_model, extra))


def test_frame_table_that_is_not_one_is_named(tmp_path):
    bad = tmp_path / "cam0.frames.csv"
    bad.write_text("a,b\n1,2\n")
    with pytest.raises(Exception, match="cam0.frames.csv: not a frame table"):
        read_frame_table(bad)

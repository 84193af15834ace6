"""Whole graphs of processes: batch lossless, live newest-frame with exact skip counts,
Ctrl-C, and a SIGKILLed inference node."""

import logging
import os
import re
import signal
import subprocess
import sys
import threading
import time

import numpy as np

from stream.recording import read_recording, recording_path
from stream.supervisor import NodeDied, Supervisor, run_rig
from tests.conftest import ROOT
from tests.stream.conftest import write_random_video
from train.data.tables import read_analysis
from train.data.video import VideoReader
from train.model.artifact import PoseModel


def _rig(tmp_path, model, videos, mode, fps=0, batch_size=4, flush_s=0.5):
    text = f'mode = "{mode}"\n'
    for i, v in enumerate(videos):
        text += f'[[source]]\nname = "cam{i}"\nkind = "video"\npath = "{v}"\nfps = {fps}\n'
    inputs = ", ".join(f'"cam{i}"' for i in range(len(videos)))
    text += (
        f'[[inference]]\nname = "pose"\nmodel = "{model}"\ninputs = [{inputs}]\n'
        f"batch_size = {batch_size}\nthreads = 1\nmax_wait_ms = 20\n"
        f'[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec"\nflush_s = {flush_s}\n'
    )
    path = tmp_path / "rig.toml"
    path.write_text(text)
    return path


def _frames(video):
    with VideoReader(video) as reader:
        return np.stack(list(reader))


def test_batch_two_cameras_lossless_when_inference_is_slowest(tmp_path, slow_model):
    videos = [
        write_random_video(tmp_path / "a.mp4", 14, 0, (240, 320)),
        write_random_video(tmp_path / "b.mp4", 9, 1, (240, 320)),
    ]
    run_rig(_rig(tmp_path, slow_model, videos, "batch", batch_size=3), print_stats=False)
    model = PoseModel(slow_model)
    for cam, video in zip(("cam0", "cam1"), videos, strict=True):
        frames = _frames(video)
        rec = read_recording(recording_path(tmp_path / "rec", cam))
        np.testing.assert_array_equal(rec["index"], np.arange(len(frames)))  # all, in order
        assert np.all(rec["t_capture"] <= rec["t_infer"]) and np.all(
            rec["t_infer"] <= rec["t_record"]
        )
        poses, scorer = read_analysis(tmp_path / "rec" / f"{video.stem}DLC_slow.h5")
        assert poses.n_frames == len(frames) and scorer == "DLC_slow"
        np.testing.assert_allclose(poses.data, model(frames), atol=0.01)


def test_live_source_never_blocks_and_skips_are_exact(tmp_path, slow_model, caplog):
    """A 200 fps source into ~15 fps inference: the newest frame wins, and processed +
    skipped is every frame the source produced."""
    n = 120
    video = write_random_video(tmp_path / "fast.mp4", n, 3, (240, 320))
    caplog.set_level(logging.INFO)
    run_rig(_rig(tmp_path, slow_model, [video], "live", fps=200, batch_size=1), print_stats=False)
    rec = read_recording(recording_path(tmp_path / "rec", "cam0"))
    skipped = int(re.search(r"cam0 ended, (\d+) frames skipped", caplog.text).group(1))
    assert skipped > 0 and len(rec["index"]) + skipped == n
    assert np.all(np.diff(rec["index"]) > 0)  # always newer frames, never a stale one twice
    poses, _ = read_analysis(tmp_path / "rec" / "fastDLC_slow.h5")
    assert poses.n_frames == n  # one row per input frame; skipped ones are NaN
    done = np.isfinite(poses.data[:, 0, 0])
    np.testing.assert_array_equal(np.flatnonzero(done), rec["index"])
    frames = _frames(video)[rec["index"][:5]]
    np.testing.assert_allclose(rec["poses"][:5], PoseModel(slow_model)(frames), atol=0.01)


def _wait_rows(path, at_least, timeout=90):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            try:
                if len(read_recording(path)["index"]) >= at_least:
                    return
            except (OSError, KeyError):
                pass  # created but not yet in SWMR mode
        time.sleep(0.2)
    raise AssertionError(f"{path} never had {at_least} rows")


def test_ctrl_c_stops_every_node_and_closes_files(tmp_path, slow_model):
    video = write_random_video(tmp_path / "long.mp4", 300, 4, (240, 320))
    rig = _rig(tmp_path, slow_model, [video], "live", fps=30, batch_size=1)
    proc = subprocess.Popen(
        [sys.executable, "-m", "stream.cli", "run", str(rig)],
        cwd=ROOT,
        start_new_session=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        _wait_rows(recording_path(tmp_path / "rec", "cam0"), 10)
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does to the group
        out, _ = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, out
    assert "fps" in out  # the per-second stats lines
    rec = read_recording(recording_path(tmp_path / "rec", "cam0"))
    poses, _ = read_analysis(tmp_path / "rec" / "longDLC_slow.h5")  # written on close
    assert 10 <= len(rec["index"]) and poses.n_frames == rec["index"][-1] + 1 < 300


def test_sigkill_of_inference_is_reported_and_recording_readable(tmp_path, slow_model):
    from stream.rig import load_rig

    video = write_random_video(tmp_path / "v.mp4", 200, 5, (240, 320))
    rig = load_rig(_rig(tmp_path, slow_model, [video], "batch", batch_size=2, flush_s=0.2))
    sup = Supervisor(rig.nodes(), rig.supervisor_endpoint, print_stats=False)
    errors = []

    def run():
        try:
            sup.run()
        except NodeDied as exc:
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    path = recording_path(rig.recorders[0].folder, "cam0")
    try:
        _wait_rows(path, 6)
        seen = len(read_recording(path)["index"])  # read while it is being written
        os.kill(sup.procs["pose"].pid, signal.SIGKILL)
    finally:
        thread.join(60)
    assert len(errors) == 1 and "'pose'" in str(errors[0]) and "SIGKILL" in str(errors[0])
    rec = read_recording(path)
    n = len(rec["index"])
    assert seen <= n < 200
    np.testing.assert_array_equal(rec["index"], np.arange(n))
    frames = _frames(video)[:n]
    np.testing.assert_allclose(rec["poses"], PoseModel(slow_model)(frames), atol=0.01)


def test_synthetic_and_image_folder_sources(tmp_path, tiny_model):
    import cv2

    from train.synth.animal import SynthConfig, SyntheticAnimal

    folder = tmp_path / "images"
    folder.mkdir()
    rng = np.random.default_rng(7)
    images = [rng.integers(0, 255, (40, 56, 3), dtype=np.uint8) for _ in range(6)]
    for i, img in enumerate(images):
        cv2.imwrite(str(folder / f"img{i:03d}.png"), img)
    rig = tmp_path / "rig.toml"
    rig.write_text(
        'mode = "batch"\n'
        '[[source]]\nname = "synth"\nkind = "synthetic"\nmax_frames = 8\nwidth = 96\n'
        "height = 64\nseed = 3\n"
        '[[source]]\nname = "imgs"\nkind = "images"\npath = "images"\n'
        f'[[inference]]\nname = "pose"\nmodel = "{tiny_model}"\ninputs = ["synth", "imgs"]\n'
        '[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "out"\n'
    )
    run_rig(rig, print_stats=False)
    model = PoseModel(tiny_model)
    animal = SyntheticAnimal(SynthConfig(width=96, height=64, n_frames=8, fps=30.0, seed=3))
    expected = {"synth": model(np.stack([animal.render(i) for i in range(8)])),
                "imgs": model(np.stack(images))}
    for cam, poses in expected.items():
        table, _ = read_analysis(tmp_path / "out" / f"{cam}DLC_tiny.h5")
        np.testing.assert_allclose(table.data, poses, atol=0.01)

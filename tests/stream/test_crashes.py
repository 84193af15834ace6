"""Killed processes, full disks, exposed endpoints: a failed run never destroys a good
result, nodes die with their supervisor, recordings a crash left open in HDF5 open in
plain tools, a full disk ends the recorder with an error. Real SIGKILLs of real
processes, a real full filesystem."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np
import pytest
import zmq

from calib.errors import RecordingError
from stream import messages as m
from stream.bus import Bus, send
from stream.h5clear import open_flags
from stream.recording import Recording2D, read_recording, recording_path
from stream.rig import RecorderSpec, free_endpoint
from tests.conftest import ROOT, write_moving_video
from tests.stream.nodeharness import NodeProcess, feeder
from tests.stream.scale.conftest import cmdline, descendants
from train.data.keypoints import Poses2D
from train.data.tables import analysis_path, write_analysis

ENV = dict(os.environ, PYTHONPATH=os.pathsep.join(
    filter(None, [str(ROOT), os.environ.get("PYTHONPATH")])))


def _wait_for(predicate, timeout_s: float, what: str, proc: subprocess.Popen | None = None):
    """`predicate()` once it is true; AssertionError if the time is up first, or at once
    if `proc` ends meanwhile."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        if proc is not None and proc.poll() is not None:
            raise AssertionError(f"{what}: the process ended ({proc.returncode}) first")
        time.sleep(0.1)
    raise AssertionError(f"timed out waiting for {what}")


def _gone(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{p}").exists() and "stream.node" in cmdline(p) for p in pids)


def _analyze(model: Path, video: Path, out: Path) -> subprocess.Popen:
    """``poseloop analyze`` on this machine's pipeline, as its own process; what it
    prints goes to ``out/output.txt`` (a pipe nobody reads would fill up with progress
    bars and block it)."""
    out.mkdir(parents=True, exist_ok=True)
    with open(out / "output.txt", "w") as log:
        return subprocess.Popen([sys.executable, "-m", "stream.cli", "analyze", str(model),
                                 str(video), "--destfolder", str(out), "--batch-size", "1",
                                 "--cluster", "none"],
                                env=ENV, stdout=log, stderr=subprocess.STDOUT, text=True)


def _output(out: Path) -> str:
    return (out / "output.txt").read_text()


def _node_pids(proc: subprocess.Popen, role: str) -> list[int]:
    return [p for p in descendants(proc.pid) if f"stream.node {role}" in cmdline(p)]


@pytest.fixture(scope="module")
def good_run(tmp_path_factory):
    """A video and the table of an earlier analysis of it (unstamped, as another tool
    writes it, so a new run analyzes the video again), with the table's bytes."""
    tmp = tmp_path_factory.mktemp("crash")
    video = write_moving_video(tmp / "clip.mp4", 300, size=(96, 128))
    out = tmp / "out"
    out.mkdir()
    table = analysis_path(video, "DLC_slow", out)
    poses = np.random.default_rng(0).random((300, 2, 3), dtype=np.float32)
    write_analysis(Poses2D(("head", "tail"), poses), "DLC_slow", table)
    return video, out, table, table.read_bytes()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
def test_killed_inference_leaves_the_good_table(good_run, slow_model):
    video, out, table, before = good_run
    run = _analyze(slow_model, video, out)
    try:
        (pid,) = _wait_for(lambda: _node_pids(run, "inference"), 600, "the inference node",
                           run)
        _wait_for(lambda: any(Path(tempfile.gettempdir()).glob(f"poseloop-analyze-{run.pid}-*/"
                                                               "*.rec.h5")), 300,
                  "the first recorded rows", run)
        os.kill(pid, signal.SIGKILL)
        assert run.wait(120) == 1
        said = _output(out)
        assert "inference" in said and "SIGKILL" in said, said
    finally:
        if run.poll() is None:
            run.kill()
    assert table.read_bytes() == before, "a failed run replaced the earlier table"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
def test_nodes_die_with_a_killed_supervisor(good_run, slow_model):
    video, out, table, before = good_run
    run = _analyze(slow_model, video, out)
    try:
        nodes = _wait_for(lambda: len(_node_pids(run, "")) == 3 and _node_pids(run, ""), 600,
                          "three nodes", run)
        _wait_for(lambda: any(Path(tempfile.gettempdir()).glob(f"poseloop-analyze-{run.pid}-*/"
                                                               "*.rec.h5")), 300,
                  "the first recorded rows", run)
        assert run.poll() is None, "the analysis ended before it could be killed"
        run.kill()  # SIGKILL: no cleanup of any kind in the supervisor
        run.wait()
        _wait_for(lambda: _gone(nodes), 60, "the orphaned nodes to end")
    finally:
        if run.poll() is None:
            run.kill()
    assert table.read_bytes() == before, "orphaned nodes replaced the complete table"
    stale = list(Path(tempfile.gettempdir()).glob(f"poseloop-analyze-{run.pid}-*"))
    assert stale, "the killed run's temporary folder should be there until the next run"
    again = _analyze(slow_model, write_moving_video(out / "short.mp4", 3), out)
    assert again.wait(600) == 0, _output(out)
    assert not any(p.exists() for p in stale), "the next run should remove the dead run's folder"


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="finds processes in /proc")
def test_sigterm_to_view_ends_its_nodes(tmp_path, tiny_model):
    rig = tmp_path / "rig.toml"
    (tmp_path / "model.pt2").write_bytes(tiny_model.read_bytes())
    rig.write_text('mode = "live"\n[[source]]\nname = "cam0"\nkind = "synthetic"\nfps = 10\n'
                   'max_frames = 100000\nwidth = 64\nheight = 48\n'
                   '[[inference]]\nname = "pose"\nmodel = "model.pt2"\ninputs = ["cam0"]\n'
                   '[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec"\n')
    view = subprocess.Popen([sys.executable, "-m", "stream.cli", "view", str(rig)],
                            env=dict(ENV, QT_QPA_PLATFORM="offscreen"))
    try:
        nodes = _wait_for(lambda: len(_node_pids(view, "")) >= 2 and _node_pids(view, ""), 600,
                          "the rig's nodes", view)
        _wait_for(lambda: recording_path(tmp_path / "rec", "cam0").exists(), 300,
                  "the first recorded poses", view)
        view.terminate()
        # SIGTERM ends the viewer as closing its window does: nodes stopped, files closed
        assert view.wait(60) == 0
        assert _gone(nodes), "the stopped viewer left nodes running"
        assert not open_flags(recording_path(tmp_path / "rec", "cam0"))
    finally:
        if view.poll() is None:
            view.kill()


def test_stop_requests_while_a_node_exits_leave_it_a_clean_end(tiny_model):
    """A supervisor asks every node still running to stop (at the end of a rig's duration,
    say) while some are already exiting; a live inference node unloading torch then got
    the SIGTERM after Python had put back the default handlers, and died of it."""
    from stream.rig import InferenceSpec

    spec = InferenceSpec("pose", str(tiny_model), ["src"], mode="live",
                         endpoint=free_endpoint(), input_endpoints=[free_endpoint()],
                         cameras=["cam0"])
    node = NodeProcess("inference", spec, zmq.Context.instance())
    try:
        node.wait_ready()
        while node.alive:  # the first stops it; the others land in its exit
            node.proc.send_signal(signal.SIGTERM)
            time.sleep(0.005)
        assert node.proc.wait() == 0, f"ended with {node.proc.returncode}: {node.errors}"
    finally:
        node.close()


def _writer(path: Path, rows: int) -> subprocess.Popen:
    """A process recording `rows` rows into `path`, then waiting to be killed."""
    code = (f"import sys, time, numpy as np\nfrom stream import messages as m\n"
            f"from stream.recording import Recording2D\n"
            f"r = Recording2D({str(path.parent)!r}, 'cam0', 'DLC_x', ('a', 'b'))\n"
            f"for i in range({rows}):\n"
            f"    r.add(m.Pose2DMessage('cam0', i, i, 1, 2, 'DLC_x', ('a', 'b'),"
            f" np.full((2, 3), i, np.float32)), 3)\n"
            f"r.flush()\nprint('flushed', flush=True)\ntime.sleep(600)\n")
    return subprocess.Popen([sys.executable, "-c", code], env=ENV, stdout=subprocess.PIPE,
                            text=True)


def test_recording_of_a_killed_writer_opens_in_plain_tools(tmp_path):
    path = recording_path(tmp_path, "cam0")
    writer = _writer(path, 50)
    try:
        assert writer.stdout.readline().strip() == "flushed"
        writer.send_signal(signal.SIGKILL)
        writer.wait()
    finally:
        writer.kill()
    assert open_flags(path), "a killed writer leaves the open-for-write flags"
    with pytest.raises(OSError, match="already open for write"):
        h5py.File(path, "r")
    rec = read_recording(path)  # poseloop's next open clears them
    assert len(rec["index"]) == 50 and rec["poses"][49, 0, 0] == 49
    with h5py.File(path, "r") as f:  # now any tool reads it
        assert f["poses"].shape == (50, 2, 3)


def test_live_writer_keeps_its_flags(tmp_path):
    """Flags are cleared only when the writer is gone: clearing them under a live writer
    would corrupt the file."""
    path = recording_path(tmp_path, "cam0")
    writer = _writer(path, 5)
    try:
        assert writer.stdout.readline().strip() == "flushed"
        assert len(read_recording(path)["index"]) == 5
        assert open_flags(path)
    finally:
        writer.kill()
        writer.wait()


def test_recording_is_never_overwritten(tmp_path):
    Recording2D(tmp_path, "cam0", "DLC_x", ("a",)).close()
    before = recording_path(tmp_path, "cam0").read_bytes()
    with pytest.raises(RecordingError, match="cam0.rec.h5: a recording of an earlier run"):
        Recording2D(tmp_path, "cam0", "DLC_x", ("a",))
    assert recording_path(tmp_path, "cam0").read_bytes() == before


@pytest.fixture
def tiny_disk(tmp_path):
    """A 256 KB filesystem (tmpfs), where this machine lets the tests mount one."""
    folder = tmp_path / "disk"
    folder.mkdir()
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", "size=256k", "tmpfs",
                                            str(folder)], capture_output=True).returncode:
        pytest.skip("cannot mount a small filesystem here (needs root)")
    try:
        yield folder
    finally:
        subprocess.run(["umount", "-l", str(folder)], check=False)


def test_full_disk_ends_the_recorder_with_an_error(tiny_disk):
    ctx = zmq.Context()
    bodyparts = tuple(f"p{i}" for i in range(64))
    feed_at = free_endpoint()
    spec = RecorderSpec("rec", ["pose"], folder=str(tiny_disk), mode="batch", flush_s=0.05,
                        input_endpoints=[feed_at], cameras=["cam0"], tables=False)
    feed = feeder(ctx, feed_at, publish=False)
    node = NodeProcess("recorder", spec, ctx)
    try:
        node.wait_ready()
        poses = np.zeros((len(bodyparts), 3), np.float32)
        for i in range(4000):  # 3 MB of rows for 256 KB of disk
            if not node.alive:
                break
            send(feed, m.Pose2DMessage("cam0", i, i, 1, 2, "DLC_x", bodyparts, poses))
            if i % 100 == 0:
                node.poll(lambda: False, 0.05)
        code = node.proc.wait(120)
        node.poll(lambda: bool(node.errors), 5)
    finally:
        node.close()
        feed.close()
        ctx.term()
    assert code == 1, f"the recorder ended with {code} (-11: segmentation fault)"
    assert any("cam0.rec.h5" in e and "No space left on device" in e for e in node.errors), \
        node.errors


def test_binding_beyond_loopback_warns(caplog):
    bus = Bus("probe")
    endpoint = free_endpoint().replace("127.0.0.1", "0.0.0.0")
    with caplog.at_level(logging.WARNING, logger="stream.bus"):
        bus.output("live", endpoint)
        bus.output("live", free_endpoint())
    bus.close()
    warned = [r.getMessage() for r in caplog.records]
    assert len(warned) == 1 and endpoint in warned[0]

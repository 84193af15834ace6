"""Jobs on this machine (no Ray): skipping complete tables, resuming after a crash."""

import os
import signal
import subprocess
import sys
import time

from stream.scale.job import analyze_job, choose_cluster
from stream.scale.report import DONE, FAILED, SKIPPED, summary_table
from tests.conftest import ROOT
from tests.stream.conftest import write_random_video
from train.data.tables import read_stamp


def test_complete_tables_are_skipped_and_missing_ones_redone(tmp_path, tiny_model):
    a = write_random_video(tmp_path / "day1" / "a.mp4", 9, 0)
    b = write_random_video(tmp_path / "day2" / "b.mp4", 5, 1)
    bad = tmp_path / "day2" / "c.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    first = analyze_job(tiny_model, [tmp_path], cluster="none", progress=False)
    assert [(r.video, r.status, r.frames) for r in first] == [
        (a, DONE, 9), (b, DONE, 5), (bad, FAILED, 0)]
    assert "c.mp4" in first[2].error and first[0].table == tmp_path / "day1" / "aDLC_tiny.h5"
    stamp, rows = read_stamp(first[0].table)
    assert rows == 9 and stamp["frames"] == 9 and stamp["scorer"] == "DLC_tiny"
    written = first[1].table.stat().st_mtime_ns
    first[0].table.unlink()
    again = analyze_job(tiny_model, [tmp_path], cluster="none", progress=False)
    assert [r.status for r in again] == [DONE, SKIPPED, FAILED]
    assert again[1].table.stat().st_mtime_ns == written
    text = summary_table(again)
    assert "1 done, 1 skipped (complete), 1 failed" in text and "c.mp4" in text


def test_a_crashed_run_leaves_only_complete_tables_and_a_rerun_finishes(tmp_path, slow_model):
    videos = [write_random_video(tmp_path / f"v{i}.mp4", 40, i, (120, 160)) for i in range(3)]
    cmd = [sys.executable, "-m", "stream.cli", "analyze", str(slow_model), str(tmp_path),
           "--cluster", "none", "--batch-size", "4"]
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen(cmd, env=env, start_new_session=True, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    first = tmp_path / "v0DLC_slow.h5"
    try:
        deadline = time.monotonic() + 120
        while not first.exists() and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)  # the command and every node it started
        proc.wait()
    assert first.exists()
    tables = sorted(tmp_path.glob("*.h5"))
    for table in tables:  # whatever stands under a table's name is complete
        stamp, rows = read_stamp(table)
        assert stamp is not None and rows == stamp["frames"] == 40
    assert not list(tmp_path.glob(".*.tmp*"))  # no temporary file left beside them either
    results = analyze_job(slow_model, [tmp_path], cluster="none", batch_size=4, progress=False)
    done = {r.video for r in results if r.status == DONE}
    assert {r.video for r in results if r.status == SKIPPED} == {t.parent / (
        t.name.replace("DLC_slow.h5", ".mp4")) for t in tables}
    assert done | {t.parent / t.name.replace("DLC_slow.h5", ".mp4") for t in tables} == set(
        videos)


def test_ray_is_chosen_only_when_more_than_one_worker_has_work():
    assert choose_cluster("none", "cpu", 8, 100) == "none"
    assert choose_cluster("10.0.0.1:6379", "cpu", 0, 1) == "10.0.0.1:6379"
    assert choose_cluster("auto", "cpu", 2, 1) == "none"
    assert choose_cluster("auto", "cpu", 2, 5) == "local"

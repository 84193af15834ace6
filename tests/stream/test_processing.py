import os
import select
from pathlib import Path

import numpy as np
import pytest

from calib.errors import ConfigError
from stream import messages as m
from stream.outputs import LogWriter, SerialWriter, read_output_log
from stream.processing import load_processor, match_triggers, outputs_of, region_entries

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "roi_processor.py"
REGION = [60.0, 60.0, 160.0, 180.0]  # seed 2: the snout enters it three times


def read_pty(fd: int, timeout: float = 2.0) -> bytes:
    """Everything the other end wrote, once it has been quiet for 0.2 s."""
    data = b""
    while select.select([fd], [], [], 0.2 if data else timeout)[0]:
        data += os.read(fd, 4096)
    return data


def walking_poses(n: int = 300):
    """The synthetic animal's exact snout track as 2D pose messages, and its truth."""
    from train.synth.animal import BODYPARTS, SynthConfig, SyntheticAnimal

    animal = SyntheticAnimal(SynthConfig(width=320, height=240, n_frames=n, seed=2))
    truth = animal.poses().data
    msgs = [m.Pose2DMessage("cam0", i, i, 1_000_000 * i, 1_000_000 * i, "gt", tuple(BODYPARTS),
                      truth[i].astype(np.float32)) for i in range(n)]
    return msgs, region_entries(truth[:, 0, :2], REGION, margin=2.0)


def test_region_trigger_on_a_pseudo_terminal_matches_the_ground_truth(tmp_path):
    msgs, true_entries = walking_poses()
    assert len(true_entries) >= 2, "the clip must cross the region more than once"
    master, slave = os.openpty()
    serial = SerialWriter(os.ttyname(slave), baudrate=115200)
    log = LogWriter(tmp_path / "outputs.jsonl")
    processor = load_processor(EXAMPLE, "RegionTrigger",
                               {"bodypart": "snout", "region": REGION, "pcutoff": 0.0,
                                "hysteresis_px": 2.0})
    for pose in msgs:
        for out in outputs_of(processor.process(pose), "roi"):
            serial.write(out, pose.t_capture, m.now_ns())
            log.write(out, pose.t_capture, m.now_ns())
    wire = read_pty(master)
    serial.close()
    log.close()
    os.close(master)
    os.close(slave)
    records = read_output_log(tmp_path / "outputs.jsonl")
    assert wire.decode().split() == [str(r["value"]) for r in records]
    triggers = [r["frame"] for r in records if r["event"] == "enter"]
    score = match_triggers(triggers, true_entries, tolerance=0)
    assert score.precision == 1.0 and score.recall == 1.0
    assert all(r["t_output"] >= r["t_capture"] for r in records)


def test_match_triggers_counts_false_and_missed_ones():
    score = match_triggers([10, 50, 51, 200], [11, 49, 120], tolerance=2)
    assert (score.triggers, score.entries, score.matched) == (4, 3, 2)
    assert score.precision == 0.5 and score.recall == pytest.approx(2 / 3)


def test_bad_processor_files_and_outputs_are_named(tmp_path):
    with pytest.raises(ConfigError, match="no such processor file"):
        load_processor(tmp_path / "absent.py", "X")
    broken = tmp_path / "broken.py"
    broken.write_text("def (:\n")
    with pytest.raises(ConfigError, match="broken.py: cannot import"):
        load_processor(broken, "X")
    with pytest.raises(ConfigError, match="no class 'Nope'"):
        load_processor(EXAMPLE, "Nope")
    with pytest.raises(ConfigError, match="RegionTrigger"):
        load_processor(EXAMPLE, "RegionTrigger", {"bodypart": "snout", "region": [1, 2]})
    with pytest.raises(ConfigError, match="roi: an output must be a dict"):
        outputs_of([{"value": [1, 2]}], "roi")
    with pytest.raises(ConfigError, match="serial port"):
        SerialWriter(str(tmp_path / "no-such-tty"))


def test_serial_template_that_does_not_fit_is_named():
    master, slave = os.openpty()
    writer = SerialWriter(os.ttyname(slave), template="{line}\n")
    with pytest.raises(ConfigError, match="template"):
        writer.write({"value": 1}, 0, 0)
    writer.close()
    os.close(master)
    os.close(slave)

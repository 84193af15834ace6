"""Several animals through the runtime: messages, batch analysis (per-frame and tracked
tables), live inference with identities kept frame to frame, recording."""

from pathlib import Path

import numpy as np
import pytest
import torch
from torch import nn

from stream import messages as m
from stream.batch import analyze_videos
from stream.recording import read_recording, recording_path
from stream.supervisor import run_rig
from tests.stream.conftest import SpotNet, write_random_video
from train.data.tables import analysis_path, read_analysis, tracked_path
from train.model.artifact import ModelMeta, PoseModel, export_model


class PairNet(nn.Module):
    """Two 'animals' of two parts: two SpotNets, the second swapped in on odd pixel sums,
    so the slots change order from frame to frame as an untracked model's do."""

    def __init__(self):
        super().__init__()
        self.a, self.b = SpotNet(), SpotNet()
        torch.manual_seed(1)
        nn.init.normal_(self.b.head.weight)

    def forward(self, x):
        a, b = self.a(x), self.b(x)
        swap = (x.sum(dim=(1, 2, 3)) > 0)[:, None, None, None]
        first, second = torch.where(swap, b[:, None], a[:, None]), torch.where(
            swap, a[:, None], b[:, None])
        return torch.cat([first, second], dim=1)


@pytest.fixture(scope="module")
def pair_model(tmp_path_factory) -> Path:
    meta = ModelMeta(bodyparts=["head", "tail"], scorer="DLC_pair", stride=4, min_size=16,
                     individuals=["ind1", "ind2"])
    return export_model(PairNet(), meta, tmp_path_factory.mktemp("m") / "pair.pt2",
                        example_hw=(64, 64))


def test_pose_message_carries_individuals():
    poses = np.arange(12, dtype=np.float32).reshape(2, 2, 3)
    msg = m.Pose2DMessage("cam0", 1, 1, 1, 2, "DLC_x", ("a", "b"), poses, ("m1", "m2"))
    back = m.decode([bytes(memoryview(p)) for p in m.encode(msg)])
    assert back.individuals == ("m1", "m2")
    np.testing.assert_array_equal(back.poses, poses)
    with pytest.raises(m.MessageError, match="pose2d poses"):
        bad = m.Pose2DMessage("cam0", 1, 1, 1, 2, "DLC_x", ("a", "b"), poses[0], ("m1", "m2"))
        m.decode([bytes(memoryview(p)) for p in m.encode(bad)])


def test_analyze_writes_per_frame_and_tracked_tables(tmp_path, pair_model):
    video = write_random_video(tmp_path / "herd.mp4", 12, 0)
    (tracked,) = analyze_videos(pair_model, [video], progress=False)
    raw = analysis_path(video, "DLC_pair")
    assert tracked == tracked_path(raw) and tracked.name == "herdDLC_pair_el.h5"
    poses, scorer = read_analysis(raw)
    assert scorer == "DLC_pair" and poses.individuals == ("ind1", "ind2")
    frames = np.stack([f for f in _frames(video)])
    np.testing.assert_allclose(poses.data, PoseModel(pair_model)(frames), atol=0.01)
    tracks, _ = read_analysis(tracked)
    assert tracks.individuals == ("ind1", "ind2") and tracks.data.shape == poses.data.shape


def test_analyze_command_tracks_the_animals_and_a_rerun_keeps_the_tracks(tmp_path, pair_model,
                                                                          capsys):
    from stream.cli import main as cli

    video = write_random_video(tmp_path / "herd.mp4", 12, 0)
    assert cli(["analyze", str(pair_model), str(tmp_path), "--cluster", "none"]) == 0
    tracked = tracked_path(analysis_path(video, "DLC_pair"))
    first = read_analysis(tracked)[0].data
    assert "1 done" in capsys.readouterr().out
    stamp = tracked.stat().st_mtime_ns
    assert cli(["analyze", str(pair_model), str(tmp_path), "--cluster", "none"]) == 0
    assert "1 skipped" in capsys.readouterr().out and tracked.stat().st_mtime_ns == stamp
    np.testing.assert_array_equal(read_analysis(tracked)[0].data, first)


def test_ranges_of_several_animals_join_into_the_unsplit_analysis(tmp_path, pair_model):
    """On a cluster long videos go in frame ranges: their part files keep the individuals."""
    from stream.scale.parts import join_parts
    from stream.scale.worker import analyze_range
    from tests.stream.scale.conftest import run_ranges

    video = write_random_video(tmp_path / "herd.mp4", 10, 1)
    model = PoseModel(pair_model)
    whole, _, _ = analyze_range(model, video, 0, 10, 4)
    job, ranges, key = run_ranges(model, video, tmp_path / "out", "DLC_pair", 4)
    joined = join_parts(job, ranges, key)
    assert joined.individuals == ("ind1", "ind2") and np.array_equal(joined.data, whole)


def _frames(video):
    from train.data.video import VideoReader

    with VideoReader(video) as reader:
        return list(reader)


def test_live_rig_records_animals_in_stable_rows(tmp_path, pair_model):
    video = write_random_video(tmp_path / "herd.mp4", 20, 3)
    rig = tmp_path / "rig.toml"
    rig.write_text(
        f'mode = "live"\n[[source]]\nname = "cam0"\nkind = "video"\npath = "{video}"\nfps = 40\n'
        f'[[inference]]\nname = "pose"\nmodel = "{pair_model}"\ninputs = ["cam0"]\n'
        f'batch_size = 1\nthreads = 1\n'
        f'[[recorder]]\nname = "rec"\ninputs = ["pose"]\nfolder = "rec"\nflush_s = 0.2\n')
    run_rig(rig, print_stats=False)
    rec = read_recording(recording_path(tmp_path / "rec", "cam0"))
    assert rec["individuals"] == ("ind1", "ind2") and rec["poses"].shape[1:] == (2, 2, 3)
    table, _ = read_analysis(tmp_path / "rec" / f"{video.stem}DLC_pair.h5")
    assert table.individuals == ("ind1", "ind2")


def test_viewer_draws_each_animal_in_its_color_with_its_skeleton():
    """The live viewer (real Qt widgets, offscreen): two animals of two parts, one color
    per animal, the skeleton drawn within each animal and never across animals."""
    import os

    os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
    from stream.viewer.feed import ViewState
    from stream.viewer.window import LiveView, app

    app()
    state = ViewState()
    poses = np.array([[[10, 10, 0.9], [20, 10, 0.9]], [[40, 30, 0.9], [50, 30, 0.9]]],
                     np.float32)
    state.feed(m.FrameMessage("cam0", 1, 1, 0, np.zeros((48, 64, 3), np.uint8)))
    state.feed(m.Pose2DMessage("cam0", 1, 1, 0, 0, "DLC_pair", ("head", "tail"), poses,
                               ("ind1", "ind2")))
    view = LiveView(state, skeleton=[["head", "tail"]], pcutoff=0.5)
    try:
        view.refresh()
        panel = view.views["cam0"]
        xs, ys = panel.points.getData()
        np.testing.assert_allclose(xs, poses[..., 0].ravel() + 0.5)
        colors = [b.color().getRgb()[:3] for b in panel.points.data["brush"]]
        assert colors[0] == colors[1] and colors[2] == colors[3] and colors[0] != colors[2]
        lx, _ = panel.lines.getData()
        np.testing.assert_allclose(lx, [10.5, 20.5, 40.5, 50.5])  # head-tail of each animal
    finally:
        view.close()

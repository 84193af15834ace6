import numpy as np
import pandas as pd
import pytest

from calib.errors import VideoError
from stream.batch import analyze_videos
from stream.cli import main as cli
from tests.stream.conftest import write_random_video
from train.data.tables import analysis_path, read_analysis
from train.data.video import VideoReader
from train.model.artifact import PoseModel


def test_analyze_equals_in_process_inference(tmp_path, tiny_model):
    videos = [
        write_random_video(tmp_path / "a.mp4", 23, 0),
        write_random_video(tmp_path / "b.mp4", 9, 1, (40, 72)),
    ]
    out = analyze_videos(
        tiny_model, videos, destfolder=tmp_path / "out", csv=True, batch_size=4, progress=False
    )
    model = PoseModel(tiny_model)
    for video, table in zip(videos, out, strict=True):
        assert table == analysis_path(video, "DLC_tiny", tmp_path / "out")
        assert table.with_name(f"{table.stem}_meta.pickle").exists()  # DeepLabCut's side file
        with VideoReader(video) as reader:
            frames = np.stack(list(reader))
        poses, scorer = read_analysis(table)
        assert scorer == "DLC_tiny" and poses.bodyparts == ("head", "tail")
        assert poses.n_frames == len(frames)  # N frames in, N rows out, in order
        np.testing.assert_allclose(poses.data, model(frames), atol=0.01)
        csv = pd.read_csv(table.with_suffix(".csv"), header=[0, 1, 2], index_col=0)
        np.testing.assert_allclose(csv.to_numpy(), poses.data.reshape(len(frames), -1), atol=1e-4)


def test_corrupt_video_is_named_and_earlier_output_kept(tmp_path, tiny_model):
    good = write_random_video(tmp_path / "good.mp4", 5, 0)
    first = analyze_videos(tiny_model, [good], progress=False)[0]
    before = first.read_bytes()
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(200))
    with pytest.raises(VideoError, match="bad.mp4"):
        analyze_videos(tiny_model, [good, bad], progress=False)
    assert first.read_bytes() == before
    assert not analysis_path(bad, "DLC_tiny").exists()


def test_analyze_command(tmp_path, tiny_model, capsys):
    video = write_random_video(tmp_path / "c.mp4", 6, 2)
    assert cli(["analyze", str(tiny_model), str(video), "--destfolder", str(tmp_path / "o")]) == 0
    assert (tmp_path / "o" / "cDLC_tiny.h5").exists()
    assert capsys.readouterr().out.strip().endswith("1 done, 0 skipped (complete), 0 failed")
    assert cli(["analyze", str(tiny_model), str(tmp_path / "missing.mp4")]) == 1
    assert "missing.mp4" in capsys.readouterr().err

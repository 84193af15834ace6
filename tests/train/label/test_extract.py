import subprocess
import sys

import cv2
import numpy as np
import pytest

from calib.errors import ConfigError
from tests.conftest import ROOT
from tests.train.label.conftest import scene_frame
from train.label.extract import extract_frames, frame_range, pick_uniform
from train.label.framepick import frame_index, frame_name


def test_deeplabcut_frame_names():
    assert frame_name(7, 2330) == "img0007.png"
    assert frame_name(7, 1000) == "img007.png"
    assert frame_name(99, 100) == "img99.png"
    assert frame_index("img0042.png") == 42 and frame_index("CollectedData_a.h5") is None


def test_uniform_spreads_over_start_stop():
    frames = list(frame_range(1000, 0.2, 0.6))
    assert frames[0] == 200 and frames[-1] == 599
    picked = pick_uniform(frames, 4)
    assert len(picked) == 4
    # one pick in each quarter of the range
    assert [(p - 200) // 100 for p in picked] == [0, 1, 2, 3]


@pytest.mark.parametrize("algo", ["uniform", "kmeans"])
def test_extract_writes_pngs_and_rerun_adds(tiny_project, algo):
    folder = tiny_project.labeled_data / "scenes"
    first = extract_frames(tiny_project.root, algo)["scenes"]
    assert len(first) == 6 and all(p.parent == folder for p in first)
    assert all(p.name.startswith("img") and len(p.name) == len("img00.png") for p in first)
    png = cv2.imread(str(first[0]))
    assert png.shape == (48, 64, 3)
    # a "labeled" frame must survive the second run untouched
    marker = first[0].read_bytes()
    second = extract_frames(tiny_project.root, algo)["scenes"]
    assert len(second) == 6 and not {p.name for p in first} & {p.name for p in second}
    assert first[0].read_bytes() == marker
    assert len(list(folder.glob("img*.png"))) == 12


def test_kmeans_covers_every_scene(tiny_project):
    tiny_project.config.set("numframes2pick", 3)
    from train.data.config import save_config

    save_config(tiny_project.config)
    picked = [frame_index(p.name) for p in extract_frames(tiny_project.root, "kmeans")["scenes"]]
    assert sorted(i // 30 for i in picked) == [0, 1, 2]


def test_extract_honors_crop(tiny_project):
    from train.data.config import save_config

    key = next(iter(tiny_project.config.video_sets))
    tiny_project.config.raw["video_sets"][key]["crop"] = "8, 40, 4, 28"
    save_config(tiny_project.config)
    paths = extract_frames(tiny_project.root, "uniform")["scenes"]
    index = frame_index(paths[0].name)
    png = cv2.imread(str(paths[0]))
    assert png.shape == (24, 32, 3)
    expected = scene_frame(index, 90)[4:28, 8:40].astype(int)
    assert np.abs(png.astype(int) - expected).mean() < 8  # mp4 compression


def test_bad_crop_and_unknown_video_are_named(tiny_project):
    from train.data.config import save_config

    with pytest.raises(ConfigError, match="nosuch"):
        extract_frames(tiny_project.root, videos=["nosuch.mp4"])
    key = next(iter(tiny_project.config.video_sets))
    tiny_project.config.raw["video_sets"][key]["crop"] = "0, 500, 0, 48"
    save_config(tiny_project.config)
    with pytest.raises(ConfigError, match="crop"):
        extract_frames(tiny_project.root)


PEAK_SCRIPT = """
import sys, tracemalloc
import numpy as np
from train.data.video import write_video, VideoReader
from train.label.extract import pick_kmeans
n = int(sys.argv[1])
path = sys.argv[2]
write_video(path, (np.full((24, 32, 3), (i * 7) % 256, np.uint8) for i in range(n)))
with VideoReader(path) as reader:
    tracemalloc.start()
    picked = pick_kmeans(reader, range(n), set(), 10, None, capacity=500)
    peak = tracemalloc.get_traced_memory()[1]
print(len(picked), peak)
"""


def _peak(n: int, tmp_path) -> int:
    out = subprocess.run([sys.executable, "-c", PEAK_SCRIPT, str(n), str(tmp_path / f"{n}.mp4")],
                         cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert out[0] == "10"
    return int(out[1])


def _assert_bounded(short: int, long: int, tmp_path) -> None:
    a, b = _peak(short, tmp_path), _peak(long, tmp_path)
    print(f"peak traced memory: {short} frames {a / 1e6:.2f} MB, {long} frames {b / 1e6:.2f} MB")
    assert b < 1.25 * a + 200_000, (a, b)


def test_kmeans_memory_bounded(tmp_path):
    _assert_bounded(2_000, 20_000, tmp_path)


@pytest.mark.slow
def test_kmeans_memory_bounded_100k_frames(tmp_path):
    _assert_bounded(5_000, 100_000, tmp_path)


def test_extract_cli(tiny_project, capsys):
    from stream.cli import main as cli

    assert cli(["extract", str(tiny_project.root), "--algo", "uniform", "--videos", "scenes"]) == 0
    assert "scenes: 6 new frames" in capsys.readouterr().out
    assert cli(["extract", str(tiny_project.root), "--videos", "nosuch"]) == 1


def test_missing_videos_are_skipped_with_one_warning(tiny_project, scene_video, caplog):
    from train.data.config import save_config

    for gone in ("gone1.mp4", "gone2.mp4"):
        tiny_project.config.raw["video_sets"][str(tiny_project.root / "videos" / gone)] = {
            "crop": "0, 64, 0, 48"}
    save_config(tiny_project.config)
    with caplog.at_level("WARNING"):
        out = extract_frames(tiny_project.root, algo="uniform")
    assert list(out) == ["scenes"] and len(out["scenes"]) == 6
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "gone1.mp4" in warnings[0] and "gone2.mp4" in warnings[0]
    with pytest.raises(ConfigError, match="no existing video"):
        extract_frames(tiny_project.root, videos=["gone1"])


def test_extract_from_a_listed_video_outside_video_sets(tiny_project, scene_video, tmp_path):
    other = tmp_path / "other.mp4"
    other.write_bytes(scene_video.read_bytes())
    out = extract_frames(tiny_project.root, algo="uniform", videos=[str(other)])
    assert list(out) == ["other"] and len(out["other"]) == 6
    assert all(p.parent == tiny_project.root / "labeled-data" / "other" for p in out["other"])

"""Several animals live in 3D, across processes: three video sources of two colored animals
seen by a calibrated virtual rig -> one inference node running an exported multi-animal
model whose rows come in no fixed order -> sync -> triangulation -> recorder, each its own
process over ZeroMQ. The recorded 3D animals are checked against the truth, and must keep
their rows (identities) from frame to frame.

Slow: seven processes that each import torch take 10-20 s on a 2-core machine; the parts
run by default elsewhere (test_animals_stream: the live 2D rig; test_animals_3d: matching
and triangulating animals)."""

from itertools import permutations

import cv2
import numpy as np
import pytest
import torch
from torch import nn

from calib.calibration import Calibration, save_calibration
from calib.camera import Camera
from calib.virtual_rig import make_rig
from stream.recording import read_recording, recording3d_path, recording_path
from stream.supervisor import run_rig
from train.data.tables import poses3d_path, read_poses3d
from train.data.video import write_video
from train.model.artifact import ModelMeta, export_model
from train.post.tracking import TrackConfig

BODYPARTS = ("head", "tail")
INDIVIDUALS = ("a1", "a2")
# RGB of (individual, bodypart): far apart, so video compression keeps them apart
COLORS = np.array([[[1.0, 0.0, 0.0], [0.0, 1.0, 0.0]], [[0.0, 0.0, 1.0], [1.0, 1.0, 1.0]]])
N_FRAMES = 16
SCALE = 0.5  # the virtual rig's 800x600 cameras at 400x300: small frames, fast inference

pytestmark = pytest.mark.slow


class ColorAnimals(nn.Module):
    """Each (individual, bodypart) is the centroid of the pixels of its color, likelihood
    from how many there are; the two rows swap with the image content (a bottom-up
    model's slots are unordered), so only live tracking keeps identities."""

    def __init__(self):
        super().__init__()
        self.register_buffer("colors", torch.tensor(COLORS, dtype=torch.float32).reshape(-1, 3))

    def forward(self, x):
        b, _, h, w = x.shape
        d2 = ((x[:, None] - self.colors[None, :, :, None, None]) ** 2).sum(2)  # (B, M, H, W)
        weight = torch.relu(1 - d2 / 0.25) ** 2
        total = weight.sum((2, 3))
        ys = torch.arange(h, dtype=x.dtype, device=x.device)[:, None]
        xs = torch.arange(w, dtype=x.dtype, device=x.device)[None, :]
        cx = (weight * xs).sum((2, 3)) / total.clamp(min=1e-6)
        cy = (weight * ys).sum((2, 3)) / total.clamp(min=1e-6)
        likelihood = (total / 10).clamp(max=1.0)
        out = torch.stack([cx, cy, likelihood], -1).reshape(b, 2, len(BODYPARTS), 3)
        swap = (torch.floor(x.mean((1, 2, 3)) * 1e5) % 2 == 1)[:, None, None, None]
        return torch.where(swap, out.flip(1), out)


def _small_rig() -> tuple[Calibration, np.ndarray]:
    rig, a2w = make_rig(3, seed=2)
    cameras = []
    for cam in rig.cameras:
        matrix = cam.matrix.copy()
        matrix[:2] *= SCALE
        matrix[:2, 2] += 0.5 * SCALE - 0.5  # pixel centers stay pixel centers
        size = (round(cam.size[0] * SCALE), round(cam.size[1] * SCALE))
        cameras.append(Camera(cam.name, size, matrix, cam.dist, cam.rvec, cam.tvec))
    return Calibration(cameras, {"virtual": True}), a2w


def _two_animals(a2w: np.ndarray) -> np.ndarray:
    """``(N, 2, 2, 3)`` world points: two animals walking a quarter circle on opposite
    sides of the arena (a few px a frame)."""
    t = np.linspace(0, np.pi / 2, N_FRAMES)[:, None, None]
    phase = np.array([0.0, np.pi])[None, :, None]
    center = np.stack([150 * np.cos(t + phase), 150 * np.sin(t + phase),
                       60 + 0 * (t + phase)], -1)[:, :, 0]  # (N, 2, 3)
    parts = np.array([[40.0, 0, 20], [-50, 0, 10]])
    arena = center[:, :, None] + parts[None, None]
    return arena @ a2w[:3, :3].T + a2w[:3, 3]


def _render(cam: Camera, world: np.ndarray) -> list[np.ndarray]:
    frames = []
    for points in world:
        frame = np.full((cam.size[1], cam.size[0], 3), 30, np.uint8)
        px = cam.project(points.reshape(-1, 3)).reshape(2, 2, 2)
        for i in range(2):
            for k in range(2):
                bgr = tuple(int(v) for v in (255 * COLORS[i, k][::-1]))
                center = tuple(int(round(v * 16)) for v in px[i, k])
                cv2.circle(frame, center, 5 * 16, bgr, -1, cv2.LINE_AA, shift=4)
        frames.append(frame)
    return frames


@pytest.fixture(scope="module")
def scene(tmp_path_factory):
    folder = tmp_path_factory.mktemp("herd3d")
    rig, a2w = _small_rig()
    world = _two_animals(a2w)
    videos = {}
    for cam in rig.cameras:
        videos[cam.name] = folder / f"{cam.name}.avi"
        write_video(videos[cam.name], _render(cam, world), codec="MJPG")
    meta = ModelMeta(bodyparts=list(BODYPARTS), scorer="DLC_colors", stride=1, min_size=16,
                     mean=[0.0, 0.0, 0.0], std=[1.0, 1.0, 1.0], individuals=list(INDIVIDUALS))
    model = export_model(ColorAnimals(), meta, folder / "colors.pt2", example_hw=(64, 64))
    save_calibration(rig, folder / "calibration.toml")
    return folder, rig, world, videos, model


def test_the_model_finds_both_animals_in_the_rendered_views(scene):
    """The fixture itself: every camera sees both animals where the calibration says."""
    from train.data.video import VideoReader
    from train.model.artifact import load_model

    _, rig, world, videos, model_path = scene
    model = load_model(model_path)
    for cam in rig.cameras:
        with VideoReader(videos[cam.name]) as reader:
            poses = model(np.stack(list(reader)))
        truth = cam.project(world.reshape(-1, 3)).reshape(N_FRAMES, 2, 2, 2)
        err = np.minimum(np.linalg.norm(poses[..., :2] - truth, axis=-1).mean((1, 2)),
                         np.linalg.norm(poses[:, ::-1, :, :2] - truth, axis=-1).mean((1, 2)))
        assert err.max() < 0.5 and (poses[..., 2] > 0.9).all(), (cam.name, err.max())


def test_several_animals_live_from_sources_to_the_3d_recording(scene):
    folder, rig, world, videos, model = scene
    names = [cam.name for cam in rig.cameras]
    sources = "".join(f'[[source]]\nname = "{c}"\nkind = "video"\npath = "{videos[c]}"\n'
                      f"fps = 5\n" for c in names)
    listed = ", ".join(f'"{c}"' for c in names)
    (folder / "rig.toml").write_text(
        f'mode = "live"\n{sources}'
        f'[[inference]]\nname = "pose"\nmodel = "{model}"\ninputs = [{listed}]\n'
        "batch_size = 3\nthreads = 1\nmax_wait_ms = 20\n"
        '[[sync]]\nname = "sync"\ninputs = ["pose"]\nmax_wait_ms = 300\n'
        '[[triangulate]]\nname = "tri"\ninputs = ["sync"]\ncalibration = "calibration.toml"\n'
        "pcutoff = 0.5\n"
        '[[recorder]]\nname = "rec"\ninputs = ["pose", "tri"]\nfolder = "rec"\nflush_s = 0.2\n')
    run_rig(folder / "rig.toml", print_stats=False)

    processed = []  # the frames inference kept, per camera (live: it may skip some)
    for c in names:
        rec2d = read_recording(recording_path(folder / "rec", c))
        assert rec2d["individuals"] == INDIVIDUALS and rec2d["poses"].shape[1:] == (2, 2, 3)
        processed.append(rec2d["index"])
    rec3d = read_recording(recording3d_path(folder / "rec", "tri"))
    assert rec3d["individuals"] == INDIVIDUALS and rec3d["xyz"].shape[1:] == (2, 2, 3)
    assert np.all(np.diff(rec3d["index"]) > 0)  # skipped, maybe, never reordered
    seen = (rec3d["n_cameras"] >= 2).all((1, 2))  # instants at least two cameras saw
    assert seen.any(), rec3d["n_cameras"]
    xyz, truth = rec3d["xyz"][seen], world[rec3d["index"][seen]]
    # each instant: its 3D rows against the true animals, in the order that fits
    errors = np.stack([np.linalg.norm(xyz - truth[:, list(o)], axis=-1).max((1, 2))
                       for o in permutations(range(2))])  # (orders, instants) mm
    assert errors.min(0).max() < 8.0, errors  # 1 px at ~1 m with f ~ 250 px: ~4 mm
    # identities: one order for the whole recording, unless a camera's tracker lost the
    # animals (inference skipped more than max_gap frames: a loaded machine)
    kept_up = all(np.diff(np.r_[-1, i, N_FRAMES]).max() <= TrackConfig().max_gap + 1
                  for i in processed)
    if kept_up:
        assert len(set(errors.argmin(0).tolist())) == 1, errors
    table, _ = read_poses3d(poses3d_path("tri", folder / "rec"))
    assert table.individuals == INDIVIDUALS

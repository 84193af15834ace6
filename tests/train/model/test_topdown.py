"""Top-down several animals: training crops and the exported model's crops agree, crop
coordinates map back to the exact frame pixel through the artifact (PyTorch and ONNX),
and a small project trains, exports and evaluates through the default path."""

from types import SimpleNamespace

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import yaml

from calib.errors import ConfigError, ModelError
from train.model.animals.topdown import (
    TopDownNet,
    animal_crops,
    crop_around,
    crop_origin,
    cut_crops,
    pooled,
)
from train.model.dataset import LabeledImages

NAN = np.nan


def test_training_crops_equal_the_crops_the_model_cuts():
    rng = np.random.default_rng(0)
    image = rng.integers(0, 255, (40, 50, 3), np.uint8)
    x = torch.from_numpy(image).permute(2, 0, 1)[None].float()
    fill = torch.tensor([-1.0, -2.0, -3.0])
    for center in ([25.0, 20.0], [2.4, 37.6], [49.0, 0.0], [-5.0, 60.0]):
        crop, origin = crop_around(image, np.array(center), 16)
        at = torch.from_numpy(origin[None, None]).long()
        cut = cut_crops(x, at, 16, fill)[0].permute(1, 2, 0)
        x0, y0 = origin.astype(int)
        rows, cols = np.mgrid[y0:y0 + 16, x0:x0 + 16]
        inside = (rows >= 0) & (rows < 40) & (cols >= 0) & (cols < 50)
        np.testing.assert_array_equal(cut.numpy()[inside], crop[inside])
        assert (cut.numpy()[~inside] == fill.numpy()).all()  # black beyond the frame
        assert (crop[~inside] == 0).all()
    np.testing.assert_array_equal(crop_origin(np.array([10.6, 3.2]), 16), [3, -5])


def test_animal_crops_put_each_animal_at_its_own_keypoints():
    image = np.zeros((60, 80, 3), np.uint8)
    kps = np.array([[[[10, 12], [20, 14]], [[70, 50], [75, 58]], [[NAN, NAN], [NAN, NAN]]]],
                   np.float32)  # the third animal is not in the frame: no crop
    for animal in kps[0, :2]:
        for x, y in animal.astype(int):
            image[y, x] = (200, 100, 50)
    crops = animal_crops(LabeledImages(["a.png"], [image], kps), 32)
    assert crops.names == ["a.png#0", "a.png#1"] and crops.keypoints.shape == (2, 2, 2)
    for crop, points in zip(crops.images, crops.keypoints, strict=True):
        for x, y in points:
            assert tuple(crop[int(y), int(x)]) == (200, 100, 50)


def test_pooled_images_follow_their_keypoints():
    image = np.zeros((8, 8, 3), np.uint8)
    image[4:6, 2:4] = 200  # the 2x2 block around pixel (2.5, 4.5)
    small = pooled(LabeledImages(["a"], [image], np.array([[[2.5, 4.5]]], np.float32)), 2)
    x, y = small.keypoints[0, 0]
    assert (x, y) == (1.0, 2.0) and small.images[0][2, 1, 0] == 200


class BrightestCenter(torch.nn.Module):
    """Finder stub: center logits high only on the cell of the brightest pixel."""

    stride = 4

    def forward(self, x):
        pooled_sum = F.max_pool2d(x.sum(1, keepdim=True), self.stride)
        return (pooled_sum - pooled_sum.amax(dim=(2, 3), keepdim=True)) * 100 + 5


class BrightestPixel(torch.nn.Module):
    """Pose stub: every part at the brightest pixel of the crop (crop pixels)."""

    def forward(self, crops):
        n, _, s, _ = crops.shape
        flat = crops.sum(1).flatten(1).argmax(1)
        y = torch.div(flat, s, rounding_mode="floor")
        xy = torch.stack([flat - y * s, y], -1).float()
        out = torch.cat([xy, torch.ones(n, 1)], -1)
        return out[:, None].expand(n, 2, 3)


@pytest.fixture(scope="module")
def stub_model(tmp_path_factory):
    from train.model.artifact import ModelMeta, export_model
    from train.model.backbones import MEAN, STD

    net = TopDownNet(BrightestCenter(), BrightestPixel(), side=32, pool=2, max_animals=3,
                     fill=-torch.tensor(MEAN) / torch.tensor(STD))
    meta = ModelMeta(bodyparts=["nose", "tail"], scorer="stub", stride=4, min_size=16,
                     individuals=["a1", "a2", "a3"])
    return export_model(net, meta, tmp_path_factory.mktemp("td") / "stub.pt2", (96, 128))


@pytest.mark.parametrize("backend", ["torch", "onnxruntime"])
def test_crop_coordinates_map_back_to_the_frame_pixel(stub_model, backend):
    """A known crop-network output (the brightest pixel of the crop) lands on the frame
    pixel it came from, in the middle of the frame and where the crop passes its edge;
    slots without an animal are NaN."""
    from train.model.artifact import load_model

    if backend == "onnxruntime":
        pytest.importorskip("onnxruntime")
    frames = np.zeros((2, 96, 128, 3), np.uint8)
    frames[0, 61, 101] = 255
    frames[1, 2, 126] = 255
    out = load_model(stub_model, backend=backend)(frames)
    assert out.shape == (2, 3, 2, 3)
    for b, (x, y) in enumerate([(101, 61), (126, 2)]):
        found = np.isfinite(out[b, :, 0, 0])
        assert found.sum() == 1
        np.testing.assert_array_equal(out[b, found][0, :, :2], [[x, y], [x, y]])
        assert np.isnan(out[b, ~found]).all()


def test_the_stored_approach_is_the_one_trained(tmp_path):
    from train.model.animals.approach import choose_approach

    config = tmp_path / "pytorch_config.yaml"
    run = SimpleNamespace(model_dir=SimpleNamespace(config_path=config),
                          project=SimpleNamespace(config=SimpleNamespace(identity=False)))
    assert choose_approach(run, None)[0] == "topdown"
    run.project.config.identity = True
    assert choose_approach(run, None)[0] == "bottomup"
    config.write_text(yaml.safe_dump({"animals": {"approach": "topdown"}}))
    assert choose_approach(run, None)[0] == "topdown"
    assert choose_approach(run, "bottomup")[0] == "bottomup"
    config.write_text(yaml.safe_dump({"animals": {"approach": "sideways"}}))
    with pytest.raises(ConfigError, match="animals.approach 'sideways'"):
        choose_approach(run, None)


@pytest.fixture(scope="module")
def alike_herd(tmp_path_factory):
    from train.synth.animal import SynthConfig, make_synthetic_project

    return make_synthetic_project(tmp_path_factory.mktemp("alike"), SynthConfig(
        width=128, height=96, n_frames=30, seed=1, body_length=0.3), n_labeled=6, animals=2,
        progress=False)


def test_topdown_is_the_default_and_trains_exports_and_evaluates(alike_herd):
    """Two stages (the finder in finder/, the pose network on crops in train/), one
    artifact with the individual axis, evaluated; a broken animals section is one line."""
    from train.model.animals.approach import finder_dir
    from train.model.artifact import load_model
    from train.model.evaluate import evaluate_network
    from train.model.export import export_network
    from train.model.trainer import train_network

    test_images = alike_herd.load_labels().images[:2]
    model_dir = train_network(alike_herd, progress=False, test_images=test_images, epochs=1,
                              stride=8)
    written = yaml.safe_load(model_dir.config_path.read_text())
    assert written["animals"]["approach"] == "topdown"
    side = written["animals"]["crop_side"]
    assert written["train"]["crop_size"] == [side, side]
    assert finder_dir(model_dir).snapshots() and model_dir.snapshots()
    result = evaluate_network(alike_herd, plot=False, progress=False)
    assert {"rmse", "mAP"} <= set(result.summary.columns)
    model = load_model(result.model_path)
    assert model.individuals == ("animal1", "animal2") and not model.meta.identity
    out = model(np.zeros((2, 96, 128, 3), np.uint8))
    assert out.shape == (2, 2, 7, 3)
    rows = out.reshape(-1, 3)
    assert (np.isnan(rows).all(1) | np.isfinite(rows).all(1)).all()  # an animal or NaN
    again = load_model(export_network(alike_herd))  # also when evaluation matched nothing
    np.testing.assert_array_equal(again(np.zeros((1, 96, 128, 3), np.uint8)), out[:1])
    train_network(alike_herd, progress=False, resume=True, epochs=2)  # one more epoch each
    assert [p.name for p in finder_dir(model_dir).snapshots()][-1] == "snapshot-00002.pt"
    assert [p.name for p in model_dir.snapshots()][-1] == "snapshot-00002.pt"
    written = yaml.safe_load(model_dir.config_path.read_text())
    del written["animals"]["crop_side"]
    model_dir.config_path.write_text(yaml.safe_dump(written))
    with pytest.raises(ModelError, match="no valid 'animals' section.*crop_side"):
        export_network(alike_herd)

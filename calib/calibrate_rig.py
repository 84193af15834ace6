"""Calibration of a whole rig from board detections: intrinsics per camera, checked board
poses, spanning-tree initial rig, bundle adjustment; and the same from videos or image
folders to a calibration TOML with its report."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from calib.boards import Board
from calib.bundle import BundleResult, bundle_adjust
from calib.calibration import Calibration, save_calibration
from calib.camera import rotation_to_rvec
from calib.detect import CameraDetections, detect_source
from calib.errors import CalibrationError
from calib.extrinsics import board_poses, spanning_tree_rig, world_board_poses
from calib.intrinsics import IntrinsicsResult, calibrate_intrinsics

log = logging.getLogger(__name__)


@dataclass
class CalibrationResult:
    """The calibrated rig and how it was reached."""

    rig: Calibration
    detections: list[CameraDetections]
    intrinsics: list[IntrinsicsResult]
    bundle: BundleResult | None


def calibrate_rig(dets: list[CameraDetections], board: Board, fisheye: bool = False,
                  fix_k3: bool = True, max_pnp_error: float | None = None) -> CalibrationResult:
    """Calibrate N >= 1 cameras from their detections (frames matched by index).

    `max_pnp_error` (px) bounds the RMS error of a board pose kept for the initial rig;
    by default 5x the camera's intrinsic RMS error, at least 2 px.
    """
    if not dets:
        raise CalibrationError("no cameras to calibrate")
    intr = [calibrate_intrinsics(d, board, fisheye=fisheye, fix_k3=fix_k3) for d in dets]
    cameras = [r.camera for r in intr]
    bundle = None
    if len(dets) > 1:
        poses = [board_poses(cam, d, board, max_pnp_error or max(2.0, 5 * r.rms))
                 for cam, d, r in zip(cameras, dets, intr, strict=True)]
        init = spanning_tree_rig(poses, [c.name for c in cameras])
        for cam, (rot, t) in zip(cameras, init, strict=True):
            cam.rvec, cam.tvec = rotation_to_rvec(rot), t
        bundle = bundle_adjust(cameras, world_board_poses(poses, init), dets, board,
                               fix_k3=fix_k3)
        cameras = bundle.cameras
    rig = Calibration(cameras, _metadata(board, dets, intr, bundle))
    return CalibrationResult(rig, dets, intr, bundle)


def _metadata(board: Board, dets: list[CameraDetections], intr: list[IntrinsicsResult],
              bundle: BundleResult | None) -> dict:
    meta: dict = {"board": board.to_dict(), "adjusted": bundle is not None}
    for d, r in zip(dets, intr, strict=True):
        cam = {
            "frames": d.n_frames,
            "frames_with_board": len(d.frames),
            "frames_failed": d.n_failed,
            "intrinsics_views": len(r.view_errors),
            "intrinsics_rejected_views": len(r.rejected),
            "intrinsics_rms_px": r.rms,
        }
        if bundle is not None:
            cam["rms_px"] = bundle.rms[d.name]
            cam["points"] = bundle.n_points[d.name]
            cam["std"] = bundle.std[d.name]
        else:
            cam["rms_px"] = r.rms
            cam["std"] = r.std
        meta[d.name] = cam
    if bundle is not None:
        meta["error"] = float(np.sqrt(
            sum(bundle.rms[n] ** 2 * bundle.n_points[n] for n in bundle.rms)
            / max(sum(bundle.n_points.values()), 1)))
        meta["bundle_dropped_views"] = len(bundle.dropped_views)
    else:
        meta["error"] = intr[0].rms
    return meta


def calibrate_sources(sources: list[str | Path], board: Board, output: str | Path,
                      names: list[str] | None = None, every: int = 1, fisheye: bool = False,
                      fix_k3: bool = True, report: bool = True) -> CalibrationResult:
    """Detect `board` in each camera's video or image folder, calibrate, write the
    calibration TOML to `output` and, with `report`, pictures and a text summary beside it."""
    names = names or [Path(s).stem for s in sources]
    if len(names) != len(sources):
        raise CalibrationError(f"{len(names)} camera names for {len(sources)} sources")
    dets = [detect_source(board, s, n, every) for s, n in zip(sources, names, strict=True)]
    result = calibrate_rig(dets, board, fisheye=fisheye, fix_k3=fix_k3)
    output = save_calibration(result.rig, output)
    if report:
        from calib.report import write_report

        write_report(result, board, output.with_suffix(""))
    return result

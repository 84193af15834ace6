"""Corner refinement on photo-like renders (issue 13): which refinement to use, measured.

For each board kind and each degradation of :data:`calib.photo_look.DEGRADATIONS`, renders
a stereo pair's views of the board (640x480, strong barrel distortion, squares 30-40 px),
finds the board with OpenCV's finder and refines the corners with each candidate method;
prints per method the share of views found, the corner error against the exact ground
truth (median, 95th percentile, px) and what one camera's calibration from those corners
gives (``calibrate_intrinsics``: focal and principal point error, RMS reprojection error).

    python tools/bench_corner_refinement.py [--views 14] [--kinds checkerboard charuco]
                                            [--looks sharp photo] [--methods old hw5 ...]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import cv2  # noqa: E402
import numpy as np  # noqa: E402

from calib.boards import Board  # noqa: E402
from calib.detect import (  # noqa: E402
    BoardDetector,
    CameraDetections,
    Detection,
    half_windows,
    local_sides,
    refine_corners,
    subpixel,
)
from calib.errors import CalibrationError  # noqa: E402
from calib.intrinsics import calibrate_intrinsics  # noqa: E402
from calib.photo_look import (  # noqa: E402
    DEGRADATIONS,
    PHOTO_CHARUCO,
    PHOTO_CHECKERBOARD,
    photo_views,
)

CRITERIA = (cv2.TERM_CRITERIA_EPS | cv2.TERM_CRITERIA_COUNT, 50, 1e-3)
Refine = Callable[[np.ndarray, Board, Detection], Detection | None]


def subpix(gray: np.ndarray, det: Detection, half: int | np.ndarray) -> Detection:
    """cornerSubPix with one half-window for all corners, or one per corner."""
    halves = np.broadcast_to(np.asarray(half), len(det.ids))
    return Detection(det.ids, subpixel(gray, det.corners, halves))


def old_rule(gray: np.ndarray, board: Board, det: Detection) -> Detection:
    """The rule before issue 13: a third of the median square side (the median side of
    all pairs of neighbouring corners), 2-15 px (ChArUco: also 80% of the white rim next to
    the markers)."""
    grid = board.corner_grid(det.ids)
    lookup = {tuple(g): i for i, g in enumerate(grid)}
    side = float(np.median([np.linalg.norm(det.corners[i] - det.corners[lookup[(c + dc, r + dr)]])
                            for i, (c, r) in enumerate(grid) for dc, dr in ((1, 0), (0, 1))
                            if (c + dc, r + dr) in lookup]))
    limit = side / 3.0
    if board.kind == "charuco":
        rim = 0.5 * (board.square_length - board.marker_length) / board.square_length * side
        limit = min(limit, 0.8 * rim)
    return subpix(gray, det, int(np.clip(round(limit), 2, 15)))


def local(frac: float, cap: int = 15, floor: int = 2) -> Refine:
    def run(gray, board, det):
        sides = local_sides(board, det)[0]
        sides[~np.isfinite(sides)] = np.median(sides[np.isfinite(sides)])
        return subpix(gray, det, np.clip(np.round(frac * sides), floor, cap).astype(int))
    return run


def consistent(refine: Refine, other: Refine, max_gap: float) -> Refine:
    """`refine`, then drop corners where `other` (another window) lands over `max_gap` px
    away: a window that reached a neighbouring edge pulls one of the two."""
    def run(gray, board, det):
        a, b = refine(gray, board, det), other(gray, board, det)
        keep = np.linalg.norm(a.corners - b.corners, axis=1) <= max_gap
        return Detection(a.ids[keep], a.corners[keep])
    return run


def fixed(half: int) -> Refine:
    return lambda gray, board, det: subpix(gray, det, half)


def rejecting(refine: Refine, max_shift: float) -> Refine:
    """`refine`, then drop corners it moved more than `max_shift` px from the finder's."""
    def run(gray, board, det):
        out = refine(gray, board, det)
        keep = np.linalg.norm(out.corners - det.corners, axis=1) <= max_shift
        return Detection(out.ids[keep], out.corners[keep])
    return run


def sb(gray: np.ndarray, board: Board, det: Detection) -> Detection | None:
    """findChessboardCornersSB's own corners (checkerboards only)."""
    flags = cv2.CALIB_CB_EXHAUSTIVE | cv2.CALIB_CB_ACCURACY | cv2.CALIB_CB_NORMALIZE_IMAGE
    found, corners = cv2.findChessboardCornersSB(gray, board.inner_shape, flags=flags)
    if not found:
        return None
    corners = corners.reshape(-1, 2).astype(np.float64)
    if np.linalg.norm(corners[0] - det.corners[0]) > np.linalg.norm(corners[-1] - det.corners[0]):
        corners = corners[::-1]  # SB may number the grid from the other end
    return Detection(np.arange(board.n_corners), corners)


def rim_windows(rim_share: float, side: str, check: bool) -> Refine:
    """ChArUco: half-window `rim_share` of the white rim next to the markers, the rim taken
    from the corner's shortest ("min") or mean ("mean") local side or the board's median
    side ("median"); with `check`, poseloop's second-window check."""
    def run(gray, board, det):
        shortest, mean = local_sides(board, det)
        ok = np.isfinite(shortest)
        sides = mean if side == "mean" else shortest
        sides[~ok] = np.median(sides[ok])
        if side == "median":
            sides[:] = np.median(mean[ok])
        rim = 0.5 * (board.square_length - board.marker_length) / board.square_length
        halves = np.clip(np.round(rim_share * rim * sides), 2, 9).astype(int)
        refined = subpixel(gray, det.corners, halves)
        if not check:
            return Detection(det.ids, refined)
        small = np.maximum(np.round(0.6 * halves), 3).astype(int)
        keep = (small >= halves) | (np.linalg.norm(
            refined - subpixel(gray, det.corners, small), axis=1) <= 0.3)
        return Detection(det.ids[keep], refined[keep])
    return run


METHODS: dict[str, Refine] = {
    "finder only": lambda gray, board, det: det,
    "old rule": old_rule,
    "poseloop": lambda gray, board, det: refine_corners(gray, board, det),
    "poseloop, no pre-blur": lambda gray, board, det: refine_corners(
        gray, board, det, pre_blur=0.0, max_asymmetry=np.inf, symmetric=False),
    "poseloop, no symmetry check": lambda gray, board, det: refine_corners(
        gray, board, det, max_asymmetry=np.inf, symmetric=False),
    "poseloop, cornerSubPix only": lambda gray, board, det: refine_corners(
        gray, board, det, symmetric=False),
    "poseloop + symmetric fit": lambda gray, board, det: refine_corners(
        gray, board, det, symmetric=True),
    "poseloop windows, no check": lambda gray, board, det: subpix(gray, det,
                                                                  half_windows(board, det)),
    "hw3": fixed(3), "hw5": fixed(5), "hw7": fixed(7), "hw11": fixed(11),
    "local 0.15": local(0.15), "local 0.2": local(0.2), "local 0.25": local(0.25),
    "local 0.3": local(0.3),
    "hw5 + reject 1px": rejecting(fixed(5), 1.0),
    "local 0.2 + reject 1px": rejecting(local(0.2), 1.0),
    "SB": sb,
    **{f"rim {share} x {side}{' + check' if check else ''}": rim_windows(share, side, check)
       for share in (0.8, 1.0, 1.2) for side in ("min", "mean", "median")
       for check in (False, True)},
    "local 0.35 <= 9": local(0.35, 9), "local 0.4 <= 9": local(0.4, 9),
    "local 0.3 <= 7": local(0.3, 7), "local 0.3, 4..9": local(0.3, 9, 4),
    "local 0.35, 4..9": local(0.35, 9, 4),
    "hw7 vs hw5 0.3px": consistent(fixed(7), fixed(5), 0.3),
    "local 0.3 vs hw5 0.3px": consistent(local(0.3), fixed(5), 0.3),
    "local 0.35 <= 9 vs 0.6x 0.3px": consistent(local(0.35, 9), local(0.21, 5), 0.3),
}


def evaluate(views, method: Refine) -> dict[str, float]:
    board = views.board
    detector = BoardDetector(board)
    errors, found, total, calib = [], 0, 0, []
    for c, cam in enumerate(views.rig.cameras):
        dets = CameraDetections(cam.name, cam.size, n_frames=len(views.poses))
        for k, (img, truth) in enumerate(zip(views.images[c], views.truth[c], strict=True)):
            total += 1
            raw = detector.find(img)
            det = None if raw is None else method(img, board, raw)
            if det is None or len(det.ids) < 6:
                continue
            found += 1
            dets.frames[k] = det
            errors.append(np.linalg.norm(det.corners - truth[det.ids], axis=1))
        try:
            res = calibrate_intrinsics(dets, board)
        except CalibrationError:
            continue
        k_est, k_true = res.camera.matrix, cam.matrix
        calib.append((np.abs(np.diag(k_est)[:2] / np.diag(k_true)[:2] - 1).max() * 100,
                      np.abs(k_est[:2, 2] - k_true[:2, 2]).max(), res.rms))
    err = np.concatenate(errors) if errors else np.array([np.nan])
    calib = np.array(calib) if calib else np.full((1, 3), np.nan)
    return {"found": found / total, "median": float(np.median(err)),
            "p95": float(np.percentile(err, 95)), "focal%": float(calib[:, 0].max()),
            "pp": float(calib[:, 1].max()), "rms": float(calib[:, 2].max())}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--views", type=int, default=14, help="views per camera (default 14)")
    parser.add_argument("--kinds", nargs="+", default=["checkerboard", "charuco"])
    parser.add_argument("--looks", nargs="+", default=list(DEGRADATIONS), metavar="LOOK")
    parser.add_argument("--methods", nargs="+", default=list(METHODS), metavar="METHOD")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    boards = {"checkerboard": PHOTO_CHECKERBOARD, "charuco": PHOTO_CHARUCO}
    print(f"{'board':<13}{'look':<18}{'method':<28}{'found':>6}{'median':>8}{'p95':>7}"
          f"{'focal%':>8}{'pp_px':>7}{'rms':>7}")
    for kind in args.kinds:
        for look in args.looks:
            views = photo_views(boards[kind], DEGRADATIONS[look], args.views, seed=args.seed)
            for name in args.methods:
                if name == "SB" and kind == "charuco":
                    continue
                r = evaluate(views, METHODS[name])
                print(f"{kind:<13}{look:<18}{name:<28}{r['found']:>6.2f}{r['median']:>8.3f}"
                      f"{r['p95']:>7.3f}{r['focal%']:>8.3f}{r['pp']:>7.2f}{r['rms']:>7.3f}",
                      flush=True)


if __name__ == "__main__":
    main()

"""Pictures and text that show how a calibration or a triangulation went."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from calib.boards import Board
from calib.camera import Camera, rodrigues


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: Path) -> Path:
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    fig.savefig(tmp, dpi=110)
    tmp.replace(path)
    return path


def summary_text(result) -> str:
    """Per-camera table of a :class:`calib.calibrate_rig.CalibrationResult`."""
    rig = result.rig
    lines = [f"{'camera':<12}{'frames':>7}{'found':>7}{'failed':>7}{'views':>7}{'rejected':>9}"
             f"{'intr_rms':>9}{'rms_px':>8}{'fx':>9}{'fy':>9}{'cx':>8}{'cy':>8}"
             f"{'sd_fx':>7}{'sd_cx':>7}"]
    for cam, det, intr in zip(rig.cameras, result.detections, result.intrinsics, strict=True):
        meta = rig.metadata.get(cam.name, {})
        std = meta.get("std", {})
        k = cam.matrix
        lines.append(
            f"{cam.name:<12}{det.n_frames:>7}{len(det.frames):>7}{det.n_failed:>7}"
            f"{len(intr.view_errors):>7}{len(intr.rejected):>9}{intr.rms:>9.3f}"
            f"{meta.get('rms_px', float('nan')):>8.3f}{k[0, 0]:>9.2f}{k[1, 1]:>9.2f}"
            f"{k[0, 2]:>8.2f}{k[1, 2]:>8.2f}{std.get('fx', float('nan')):>7.2f}"
            f"{std.get('cx', float('nan')):>7.2f}")
    overall = rig.metadata.get("error", float("nan"))
    lines.append(f"overall RMS reprojection error: {overall:.3f} px")
    if result.bundle is not None:
        lines.append(f"board poses: {len(result.bundle.board_poses)}; views dropped by the "
                     f"bundle adjustment: {len(result.bundle.dropped_views)}")
    return "\n".join(lines) + "\n"


STAND_OUT_RATIO = 2.0  # a view stands out at twice its camera's median error ...
STAND_OUT_MADS = 4.0  # ... and that many (scaled) median absolute deviations above it


def standing_out(errors: dict[int, float]) -> set[int]:
    """Frames whose RMS error is over ``STAND_OUT_RATIO`` x the median of `errors` and over
    the median + ``STAND_OUT_MADS`` scaled median absolute deviations."""
    if not errors:
        return set()
    values = np.array(list(errors.values()))
    med = float(np.median(values))
    mad = 1.4826 * float(np.median(np.abs(values - med)))
    limit = max(STAND_OUT_RATIO * med, med + STAND_OUT_MADS * mad)
    return {k for k, e in errors.items() if e > limit}


def view_table(result) -> str:
    """Per-view corner RMS error (px) of every camera, one row per frame: after the bundle
    adjustment where there was one, else from the intrinsic fit. ``*`` marks a view that
    stands out (:func:`standing_out`), ``rejected`` one left out as an outlier, ``-`` a
    frame where the camera did not see the board."""
    names = result.rig.names
    errors: dict[str, dict[int, float]] = {n: {} for n in names}
    rejected: dict[str, set[int]] = {n: set(r.rejected) for n, r in
                                     zip(names, result.intrinsics, strict=True)}
    if result.bundle is not None:
        for (name, frame), e in result.bundle.view_errors.items():
            errors[name][frame] = e
        for name, frame in result.bundle.dropped_views:
            rejected[name].add(frame)
    else:
        for name, r in zip(names, result.intrinsics, strict=True):
            errors[name] = dict(r.view_errors)
    flagged = {n: standing_out(errors[n]) for n in names}
    frames = sorted(set().union(*errors.values(), *rejected.values()))
    lines = ["per-view corner RMS error (px); * stands out (over "
             f"{STAND_OUT_RATIO:g}x the camera's median and {STAND_OUT_MADS:g} MADs above it)",
             f"{'frame':>7}" + "".join(f"{n:>12}" for n in names)]
    for k in frames:
        cells = []
        for n in names:
            if k in errors[n]:
                cells.append(f"{errors[n][k]:.3f}" + ("*" if k in flagged[n] else " "))
            else:
                cells.append("rejected " if k in rejected[n] else "- ")
        lines.append(f"{k:>7}" + "".join(f"{c:>12}" for c in cells))
    for n in names:
        if flagged[n]:
            lines.append(f"{n}: views that stand out: {sorted(flagged[n])}")
    return "\n".join(lines) + "\n"


def _frustum(ax, cam: Camera, scale: float, color) -> None:
    w, h = cam.size
    corners = np.array([[0, 0], [w, 0], [w, h], [0, h]], float)
    rays = cam.undistort(corners)
    pts_cam = np.concatenate([rays, np.ones((4, 1))], 1) * scale
    pts = (pts_cam - cam.tvec) @ cam.rotation  # camera -> world
    c = cam.center
    for p in pts:
        ax.plot(*np.stack([c, p]).T, color=color, lw=0.8)
    loop = np.vstack([pts, pts[:1]])
    ax.plot(*loop.T, color=color, lw=0.8)
    ax.text(*c, cam.name, color=color, fontsize=8)


def plot_rig(cameras: list[Camera], board: Board, board_poses: dict[int, np.ndarray] | None,
             path: str | Path, title: str = "rig") -> Path:
    """3D picture of the cameras (frustums) and the board poses (outlines) in world units."""
    plt = _pyplot()
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    centers = np.array([c.center for c in cameras])
    size = max(float(np.ptp(centers, axis=0).max()), board.extent[0] * 2)
    colors = plt.cm.tab10(np.arange(len(cameras)) % 10)
    for cam, color in zip(cameras, colors, strict=True):
        _frustum(ax, cam, 0.15 * size, color)
    w, h = board.extent
    outline = np.array([[0, 0, 0], [w, 0, 0], [w, h, 0], [0, h, 0], [0, 0, 0]], float)
    for pose in (board_poses or {}).values():
        pts = outline @ rodrigues(pose[:3]).T + pose[3:]
        ax.plot(*pts.T, color="0.5", lw=0.5)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.set_title(title)
    ax.invert_zaxis()  # camera 0 looks along +z: show it looking "down" into the scene
    path = _save(fig, Path(path))
    plt.close(fig)
    return path


def plot_errors(result, path: str | Path) -> Path:
    """Bar chart of per-camera RMS reprojection errors and histogram of per-view errors."""
    plt = _pyplot()
    fig, (a0, a1) = plt.subplots(1, 2, figsize=(9, 3.5))
    names = result.rig.names
    intr = [r.rms for r in result.intrinsics]
    final = [result.rig.metadata.get(n, {}).get("rms_px", np.nan) for n in names]
    x = np.arange(len(names))
    a0.bar(x - 0.2, intr, 0.4, label="intrinsics")
    a0.bar(x + 0.2, final, 0.4, label="bundle adjusted")
    a0.set_xticks(x, names)
    a0.set_ylabel("RMS reprojection error (px)")
    a0.legend()
    for name, r in zip(names, result.intrinsics, strict=True):
        a1.hist(list(r.view_errors.values()), bins=30, histtype="step", label=name)
    a1.set_xlabel("per-view RMS error (px)")
    a1.set_ylabel("views")
    a1.legend(fontsize=7)
    fig.tight_layout()
    path = _save(fig, Path(path))
    plt.close(fig)
    return path


def write_report(result, board: Board, stem: str | Path) -> list[Path]:
    """``<stem>_report.txt`` (:func:`summary_text` and :func:`view_table`), ``<stem>_rig.png``
    and ``<stem>_errors.png``."""
    stem = Path(stem)
    text = stem.with_name(stem.name + "_report.txt")
    tmp = text.with_name(f".{text.name}.tmp")
    tmp.write_text(summary_text(result) + "\n" + view_table(result))
    tmp.replace(text)
    poses = result.bundle.board_poses if result.bundle is not None else None
    return [text,
            plot_rig(result.rig.cameras, board, poses, stem.with_name(stem.name + "_rig.png"),
                     f"{len(result.rig.cameras)} cameras, {len(poses or {})} board poses"),
            plot_errors(result, stem.with_name(stem.name + "_errors.png"))]


def plot_trajectories(xyz: np.ndarray, bodyparts: list[str] | tuple[str, ...],
                      path: str | Path, cameras: list[Camera] | None = None) -> Path:
    """3D trajectories ``xyz (frames, bodyparts, 3)`` (NaN gaps stay gaps), one color per
    bodypart, with the camera centers when given."""
    plt = _pyplot()
    fig = plt.figure(figsize=(7, 6))
    ax = fig.add_subplot(projection="3d")
    colors = plt.cm.viridis(np.linspace(0, 1, max(len(bodyparts), 2)))
    for j, name in enumerate(bodyparts):
        ax.plot(*xyz[:, j].T, color=colors[j], lw=0.8, label=name)
    if cameras:
        centers = np.array([c.center for c in cameras])
        ax.scatter(*centers.T, color="k", marker="^")
        for c, p in zip(cameras, centers, strict=True):
            ax.text(*p, c.name, fontsize=8)
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_zlabel("z")
    ax.legend(fontsize=7, loc="upper left")
    path = _save(fig, Path(path))
    plt.close(fig)
    return path

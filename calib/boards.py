"""Calibration boards: checkerboard and ChArUco, defined once, with their printable image.

A board lies in its own plane ``z = 0`` with the origin at its top-left outer corner, x to
the right and y down (as printed). Inner corners are numbered row by row:
corner ``i`` sits at ``((i % (squares_x - 1) + 1) * L, (i // (squares_x - 1) + 1) * L, 0)``
for square length ``L``; both OpenCV's checkerboard finder and its ChArUco ids use this
order. Lengths are in calibration units; for printing they are read as millimetres.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from pathlib import Path

import cv2
import numpy as np

from calib.errors import CalibrationError

KINDS = ("checkerboard", "charuco")
MM_PER_INCH = 25.4


@dataclass(frozen=True)
class Board:
    """A calibration board. ``squares_x`` x ``squares_y`` squares of ``square_length``;
    ChArUco boards also have ``marker_length`` and an ArUco ``dictionary`` name."""

    kind: str = "charuco"
    squares_x: int = 7
    squares_y: int = 5
    square_length: float = 40.0
    marker_length: float = 30.0
    dictionary: str = "DICT_4X4_50"

    def __post_init__(self) -> None:
        problems = []
        if self.kind not in KINDS:
            problems.append(f"kind must be one of {KINDS}, got {self.kind!r}")
        if self.squares_x < 3 or self.squares_y < 3:
            problems.append(f"need at least 3x3 squares, got {self.squares_x}x{self.squares_y}")
        if not self.square_length > 0:
            problems.append(f"square_length must be > 0, got {self.square_length}")
        if self.kind == "charuco":
            if not 0 < self.marker_length < self.square_length:
                problems.append(f"marker_length must be in (0, square_length), got "
                                f"{self.marker_length}")
            if not hasattr(cv2.aruco, self.dictionary):
                problems.append(f"unknown ArUco dictionary {self.dictionary!r}")
            else:
                n_markers = (self.squares_x * self.squares_y) // 2
                size = cv2.aruco.getPredefinedDictionary(
                    getattr(cv2.aruco, self.dictionary)).bytesList.shape[0]
                if n_markers > size:
                    problems.append(f"{self.dictionary} has {size} markers, the board needs "
                                    f"{n_markers}")
        if problems:
            raise CalibrationError("board: " + "; ".join(problems))

    @property
    def inner_shape(self) -> tuple[int, int]:
        """Inner corners ``(columns, rows)``: OpenCV's checkerboard pattern size."""
        return self.squares_x - 1, self.squares_y - 1

    @property
    def n_corners(self) -> int:
        return (self.squares_x - 1) * (self.squares_y - 1)

    @property
    def extent(self) -> tuple[float, float]:
        """Board width and height in calibration units."""
        return self.squares_x * self.square_length, self.squares_y * self.square_length

    def object_points(self) -> np.ndarray:
        """Inner corners in board coordinates ``(n_corners, 3)`` float64, in id order."""
        cols, rows = self.inner_shape
        ids = np.arange(self.n_corners)
        return np.stack([(ids % cols + 1) * self.square_length,
                         (ids // cols + 1) * self.square_length,
                         np.zeros(self.n_corners)], -1)

    def corner_grid(self, ids: np.ndarray) -> np.ndarray:
        """``(column, row)`` of each corner id ``(M, 2)``."""
        cols = self.inner_shape[0]
        ids = np.asarray(ids)
        return np.stack([ids % cols, ids // cols], -1)

    def charuco(self) -> cv2.aruco.CharucoBoard:
        if self.kind != "charuco":
            raise CalibrationError("board: a checkerboard has no ChArUco definition")
        dictionary = cv2.aruco.getPredefinedDictionary(getattr(cv2.aruco, self.dictionary))
        return cv2.aruco.CharucoBoard((self.squares_x, self.squares_y), self.square_length,
                                      self.marker_length, dictionary)

    def image(self, px_per_unit: float) -> np.ndarray:
        """The board as a grayscale uint8 image, ``px_per_unit`` pixels per unit, no margin:
        pixel ``(i, j)`` covers board coordinates ``[i, i + 1) / px_per_unit``."""
        width = int(round(self.extent[0] * px_per_unit))
        height = int(round(self.extent[1] * px_per_unit))
        if self.kind == "charuco":
            return self.charuco().generateImage((width, height), marginSize=0, borderBits=1)
        # Top-left square black, as on OpenCV's ChArUco boards.
        u = (np.arange(width) + 0.5) / px_per_unit // self.square_length
        v = (np.arange(height) + 0.5) / px_per_unit // self.square_length
        black = (u[None, :] + v[:, None]) % 2 == 0
        return np.where(black, 0, 255).astype(np.uint8)

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_options(cls, recorded: dict | None = None, **options) -> Board:
        """The board `options` (Board fields, None: not given) describe; an option not
        given comes from `recorded` (a calibration's ``metadata.board``), then from the
        defaults above."""
        given = {k: v for k, v in options.items() if v is not None}
        return cls.from_dict({**(recorded or {}), **given})

    @classmethod
    def from_dict(cls, d: dict) -> Board:
        known = {k: d[k] for k in cls.__dataclass_fields__ if k in d}
        unknown = sorted(set(d) - set(known))
        if unknown:
            raise CalibrationError(f"board: unknown field(s) {unknown}")
        try:
            return cls(**known)
        except TypeError as exc:
            raise CalibrationError(f"board: {exc}") from exc


def write_printable(board: Board, path: str | Path, dpi: int = 300,
                    margin_mm: float = 10.0) -> tuple[Path, Path]:
    """Write ``<path>.png`` and ``<path>.pdf`` of `board` at its physical size (units = mm).

    The PDF page is the board plus `margin_mm` on each side, so printing it at 100% scale
    gives squares of exactly ``square_length`` mm; the PNG carries `dpi` in its metadata.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    path = Path(path)
    width_mm, height_mm = board.extent
    page_w, page_h = width_mm + 2 * margin_mm, height_mm + 2 * margin_mm
    px_per_mm = dpi / MM_PER_INCH
    img = board.image(px_per_mm)
    fig = plt.figure(figsize=(page_w / MM_PER_INCH, page_h / MM_PER_INCH))
    ax = fig.add_axes((margin_mm / page_w, margin_mm / page_h, width_mm / page_w,
                       height_mm / page_h))
    ax.imshow(img, cmap="gray", vmin=0, vmax=255, interpolation="nearest",
              extent=(0, width_mm, height_mm, 0))
    ax.set_axis_off()
    label = (f"{board.kind} {board.squares_x}x{board.squares_y}, square {board.square_length} mm"
             + (f", marker {board.marker_length} mm, {board.dictionary}"
                if board.kind == "charuco" else "") + " - print at 100%")
    fig.text(0.5, 0.3 * margin_mm / page_h, label, ha="center", va="center", fontsize=6)
    path.parent.mkdir(parents=True, exist_ok=True)
    out = []
    for suffix in (".png", ".pdf"):
        target = path.with_suffix(suffix)
        tmp = target.with_name(f".{target.stem}.tmp{suffix}")
        fig.savefig(tmp, dpi=dpi)
        tmp.replace(target)
        out.append(target)
    plt.close(fig)
    return out[0], out[1]

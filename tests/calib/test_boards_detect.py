"""Boards, their printable files, and detection on rendered views of the virtual rig."""

import cv2
import numpy as np
import pytest

from calib.boards import Board, write_printable
from calib.camera import Camera, rodrigues
from calib.detect import BoardDetector, detect_source
from calib.errors import CalibrationError
from calib.virtual_rig import ARENA_BOARD, Renderer


def test_board_corner_order_matches_opencv():
    board = Board("charuco", 7, 5, 40.0, 30.0)
    np.testing.assert_allclose(board.object_points(),
                               board.charuco().getChessboardCorners(), atol=1e-5)
    assert board.n_corners == 24 and board.extent == (280.0, 200.0)
    assert Board.from_dict(board.to_dict()) == board


@pytest.mark.parametrize("kwargs, match", [
    ({"kind": "dots"}, "kind must be"),
    ({"squares_x": 2}, "at least 3x3"),
    ({"marker_length": 50.0}, "marker_length"),
    ({"dictionary": "DICT_NOPE"}, "unknown ArUco"),
    ({"squares_x": 12, "squares_y": 10, "dictionary": "DICT_4X4_50"}, "has 50 markers"),
])
def test_bad_boards_are_errors(kwargs, match):
    with pytest.raises(CalibrationError, match=match):
        Board(**kwargs)
    with pytest.raises(CalibrationError, match="unknown field"):
        Board.from_dict({"kind": "charuco", "size": 3})


@pytest.mark.parametrize("kind", ["charuco", "checkerboard"])
def test_printable_board_has_physical_size(tmp_path, kind):
    board = Board(kind, 5, 4, 30.0, 22.0)
    png, pdf = write_printable(board, tmp_path / "board", dpi=200, margin_mm=10.0)
    img = cv2.imread(str(png), cv2.IMREAD_GRAYSCALE)
    mm = 25.4
    expected = np.array([(120 + 20) / mm * 200, (150 + 20) / mm * 200])
    assert np.abs(np.array(img.shape) - expected).max() <= 1  # matplotlib truncates
    text = pdf.read_bytes()
    # page of (150 + 20) x (120 + 20) mm in PDF points (1/72 inch)
    w_pt, h_pt = 170 / mm * 72, 140 / mm * 72
    box = text[text.index(b"/MediaBox"):].split(b"]")[0].split(b"[")[1].split()
    assert abs(float(box[2]) - w_pt) < 0.5 and abs(float(box[3]) - h_pt) < 0.5
    # one square is 30 mm: in the PNG, 30 / 25.4 * 200 = 236 px
    margin = round(10 / mm * 200)
    row = img[margin + 5, margin:margin + 3 * 236] < 128  # first row: black, white, black
    assert row[:230].all() and not row[242:470].any() and row[478:].all()
    detected = BoardDetector(board).detect(img)
    assert detected is not None and len(detected.ids) == board.n_corners


def _front_camera():
    return Camera("c", (800, 600), [[700, 0, 410], [0, 700, 290], [0, 0, 1]],
                  [-0.2, 0.05, 1e-3, -1e-3, 0])


def _truth(cam, board, pose):
    return cam.project(board.object_points() @ rodrigues(pose[:3]).T + pose[3:])


@pytest.mark.parametrize("kind", ["charuco", "checkerboard"])
def test_detection_on_rendered_views_is_subpixel(kind):
    board = ARENA_BOARD if kind == "charuco" else Board("checkerboard", 9, 6, 60.0)
    cam = _front_camera()
    render = Renderer(cam, board)
    errors = []
    for pose in ([0.3, 0.2, 0.1, -270, -180, 900.0], [-0.4, 0.3, 0.5, -200, -220, 1000.0]):
        pose = np.array(pose)
        det = BoardDetector(board).detect(render(pose))
        assert det is not None and len(det.ids) == board.n_corners
        errors.append(np.linalg.norm(det.corners - _truth(cam, board, pose)[det.ids], axis=1))
    errors = np.concatenate(errors)
    assert np.sqrt(np.mean(errors ** 2)) < 0.2 and errors.max() < 0.5


def test_partial_charuco_view_is_used_and_failures_are_counted(tmp_path):
    cam = _front_camera()
    render = Renderer(cam, ARENA_BOARD)
    full = render(np.array([0.1, -0.1, 0.0, -270, -180, 900.0]))
    partial = render(np.array([0.1, -0.1, 0.0, 100, -180, 900.0]))  # half out of the image
    empty = np.full_like(full, 128)
    for k, img in enumerate([full, partial, empty, empty]):
        cv2.imwrite(str(tmp_path / f"img{k:02d}.png"), img)
    dets = detect_source(ARENA_BOARD, tmp_path, "cam", progress=False)
    assert dets.n_frames == 4 and dets.n_failed == 2 and sorted(dets.frames) == [0, 1]
    assert 6 <= len(dets.frames[1].ids) < ARENA_BOARD.n_corners
    assert dets.size == (800, 600)


def test_missing_sources_are_errors(tmp_path):
    with pytest.raises(CalibrationError, match="not found"):
        detect_source(ARENA_BOARD, tmp_path / "nope.mp4", progress=False)
    (tmp_path / "empty").mkdir()
    with pytest.raises(CalibrationError, match="no images"):
        detect_source(ARENA_BOARD, tmp_path / "empty", progress=False)

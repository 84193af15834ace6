"""Write a printable calibration board (PNG and PDF at physical size, lengths in mm)."""

import argparse

BOARD_DEFAULTS = {"board": "charuco", "squares": (7, 5), "square_length": 40.0,
                  "marker_length": 30.0, "dictionary": "DICT_4X4_50"}


def add_board_arguments(parser: argparse.ArgumentParser, from_calibration: bool = False) -> None:
    """Board options shared by board, calibrate and undistort-check. With
    `from_calibration`, options not given come from the calibration file's board."""
    d = {k: None for k in BOARD_DEFAULTS} if from_calibration else BOARD_DEFAULTS
    g = parser.add_argument_group(
        "board" + (" (default: the board recorded in the calibration)" if from_calibration
                   else ""))
    g.add_argument("--board", choices=("charuco", "checkerboard"), default=d["board"],
                   help="board kind (default charuco)")
    g.add_argument("--squares", type=int, nargs=2, default=d["squares"], metavar=("X", "Y"),
                   help="squares along x and y (default 7 5)")
    g.add_argument("--square-length", type=float, default=d["square_length"],
                   help="side of one square in calibration units, mm when printing (default 40)")
    g.add_argument("--marker-length", type=float, default=d["marker_length"],
                   help="ChArUco marker side, same units (default 30)")
    g.add_argument("--dictionary", default=d["dictionary"],
                   help="ArUco dictionary (default DICT_4X4_50)")


def board_from_args(args: argparse.Namespace, recorded: dict | None = None):
    """The board the options describe; options left unset (None) come from `recorded`
    (a calibration's ``metadata.board``), then from the defaults."""
    from calib.boards import Board

    recorded = recorded or {}
    fallback = {"board": recorded.get("kind"),
                "squares": (recorded["squares_x"], recorded["squares_y"])
                if "squares_x" in recorded and "squares_y" in recorded else None,
                "square_length": recorded.get("square_length"),
                "marker_length": recorded.get("marker_length"),
                "dictionary": recorded.get("dictionary")}
    value = {k: next(v for v in (getattr(args, k), fallback[k], BOARD_DEFAULTS[k])
                     if v is not None) for k in BOARD_DEFAULTS}
    return Board(value["board"], value["squares"][0], value["squares"][1],
                 value["square_length"], value["marker_length"], value["dictionary"])


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", help="output path; .png and .pdf are written")
    add_board_arguments(parser)
    parser.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    parser.add_argument("--margin", type=float, default=10.0, help="page margin in mm (default 10)")


def main(args: argparse.Namespace) -> None:
    from calib.boards import write_printable

    png, pdf = write_printable(board_from_args(args), args.output, args.dpi, args.margin)
    print(png)
    print(pdf)

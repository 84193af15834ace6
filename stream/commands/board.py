"""Write a printable calibration board (PNG and PDF at physical size, lengths in mm)."""

import argparse

from stream.commands._arguments import add_board_arguments, board_from, output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("output", type=output_file, help="output path; .png and .pdf are written")
    add_board_arguments(parser)
    parser.add_argument("--dpi", type=int, default=300, help="PNG resolution (default 300)")
    parser.add_argument("--margin", type=float, default=10.0, help="page margin in mm (default 10)")


def main(args: argparse.Namespace) -> None:
    from calib.boards import write_printable

    png, pdf = write_printable(board_from(args), args.output, args.dpi, args.margin)
    print(png)
    print(pdf)

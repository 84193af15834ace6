"""Triangulate per-camera DeepLabCut analysis tables into a 3D table (h5 + csv) and a plot."""

import argparse

from stream.commands._arguments import existing_file, output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("calibration", type=existing_file,
                        help="calibration TOML (poseloop or anipose)")
    parser.add_argument("tables", nargs="+", metavar="TABLE", type=existing_file,
                        help="analysis .h5 per camera; matched to cameras by name in the file "
                             "name, else in the calibration's order")
    parser.add_argument("-o", "--output", type=output_file,
                        help="3D table .h5 (default: <first table>_3d.h5)")
    parser.add_argument("--cameras", nargs="+", help="camera name of each table, in order")
    parser.add_argument("--pcutoff", type=float, default=0.1,
                        help="leave out views with a lower likelihood (default 0.1)")
    parser.add_argument("--no-robust", action="store_true",
                        help="plain weighted DLT, no outlier-view rejection")
    parser.add_argument("--threshold", type=float, default=15.0,
                        help="outlier view threshold in px for the robust method (default 15)")
    parser.add_argument("--refine", action="store_true", help="nonlinear refinement")
    parser.add_argument("--no-csv", action="store_true", help="h5 only")
    parser.add_argument("--no-plot", action="store_true", help="skip the 3D trajectory plot")


def main(args: argparse.Namespace) -> None:
    from train.post.triangulate3d import triangulate_tables

    path, poses = triangulate_tables(
        args.calibration, args.tables, args.output, cameras=args.cameras, pcutoff=args.pcutoff,
        robust=not args.no_robust, threshold=args.threshold, refine=args.refine,
        csv=not args.no_csv, plot=not args.no_plot)
    found = poses.n_cameras >= 2
    print(f"{path}: {poses.n_frames} frames, {len(poses.bodyparts)} bodyparts, "
          f"{100 * found.mean():.1f}% triangulated")

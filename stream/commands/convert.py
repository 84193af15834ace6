"""Convert an analysis between formats, by suffix: DeepLabCut .h5/.csv, NWB, SLEAP .slp."""

import argparse

from stream.commands._arguments import existing_file, output_file, project_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("source", type=existing_file,
                        help="analysis table (.h5, .csv), .nwb or .slp")
    parser.add_argument("out", type=output_file,
                        help="output file; its suffix picks the format (.nwb, .slp, .h5, "
                        ".csv)")
    parser.add_argument("--video", type=existing_file,
                        help="the analyzed video (frame rate, size, name for NWB)")
    parser.add_argument("--fps", type=float, default=30.0,
                        help="frame rate when no --video is given (default 30)")
    parser.add_argument("--config", type=project_path,
                        help="project (folder or config.yaml) whose skeleton to "
                        "store")


def main(args: argparse.Namespace) -> None:
    from train.io.convert import convert_analysis

    skeleton = ()
    if args.config:
        from train.data.config import load_config

        skeleton = load_config(args.config).skeleton
    print(convert_analysis(args.source, args.out, args.fps, args.video, skeleton))

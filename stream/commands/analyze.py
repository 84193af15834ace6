"""Analyze videos with an exported model: DeepLabCut tables <video><scorer>.h5 (batch pipeline)."""

import argparse

from stream.commands._arguments import existing_file, output_folder


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=existing_file,
                        help="exported model (.pt2, from poseloop export)")
    parser.add_argument("videos", nargs="+", metavar="VIDEO", type=existing_file)
    parser.add_argument(
        "--destfolder", type=output_folder,
        help="where tables go (default: beside each video)"
    )
    parser.add_argument("--csv", action="store_true", help="also write .csv tables")
    parser.add_argument(
        "--batch-size", type=int, default=8, help="frames per network batch (default 8)"
    )
    parser.add_argument("--device", default="cpu", help="torch device, e.g. cpu or cuda:0")
    parser.add_argument(
        "--threads", type=int, default=0, help="torch threads (default: torch's choice)"
    )


def main(args: argparse.Namespace) -> None:
    from stream.batch import analyze_videos

    for path in analyze_videos(
        args.model,
        args.videos,
        args.destfolder,
        args.csv,
        args.batch_size,
        args.device,
        args.threads,
    ):
        print(path)

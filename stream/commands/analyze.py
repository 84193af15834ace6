"""Analyze videos, folders or lists into DeepLabCut tables (resumable; this machine or Ray)."""

import argparse
import sys

from stream.commands._arguments import existing_file, existing_path, output_folder

UNDECODABLE_FRAMES = 3  # exit status: tables written, but some frames had no pose


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=existing_file,
                        help="exported model (.pt2, from poseloop export)")
    parser.add_argument(
        "videos", nargs="+", metavar="VIDEO|FOLDER|LIST", type=existing_path,
        help="video files, folders (searched recursively by suffix), or lists (.txt: one "
             "path a line; .csv: a column named video or path)",
    )
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
        "--threads", type=int, default=0,
        help="torch threads (per worker on Ray; default: torch's choice, or the worker's "
             "share of the cores)",
    )
    parser.add_argument(
        "--cluster", default="auto", metavar="auto|none|local|ADDRESS",
        help="none: this machine's pipeline, no Ray; local: a Ray instance here; ADDRESS: "
             "a running Ray cluster (ray start); auto (default): local when more than one "
             "worker would have work",
    )
    parser.add_argument(
        "--workers", type=int, default=0,
        help="Ray workers (default: one per GPU, or one per 4 cores)",
    )
    parser.add_argument(
        "--chunk-frames", type=int, default=None,
        help="on Ray, split videos into ranges of about this many frames (0: never; "
             "default 10000)",
    )
    parser.add_argument(
        "--retries", type=int, default=3,
        help="on Ray, times a range is given to a fresh worker after one dies (default 3)",
    )


def main(args: argparse.Namespace) -> int:
    """Prints the summary; exit status 1 when a video failed, else 3 when frames did not
    decode (their rows are NaN, named on stderr)."""
    from stream.scale.job import DEFAULT_CHUNK, analyze_job
    from stream.scale.report import FAILED, missing_note, summary_table

    chunk = DEFAULT_CHUNK if args.chunk_frames is None else args.chunk_frames
    results = analyze_job(
        args.model, args.videos, args.destfolder, args.csv, args.batch_size, args.device,
        args.threads, args.cluster, args.workers, chunk, args.retries,
    )
    print(summary_table(results))
    damaged = [r for r in results if r.missing]
    for r in damaged:
        print(f"poseloop analyze: {r.video}: {missing_note(r)}", file=sys.stderr)
    if any(r.status == FAILED for r in results):
        return 1
    return UNDECODABLE_FRAMES if damaged else 0

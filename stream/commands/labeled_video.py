"""Draw poses on a video: points colored by bodypart, likelihood as opacity, skeleton."""

import argparse

from stream.commands._arguments import existing_file, output_file, project_path


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("video", type=existing_file, help="the video that was analyzed")
    parser.add_argument("table", type=existing_file,
                        help="its analysis table <video><scorer>.h5 (or .csv)")
    parser.add_argument("--out", type=output_file,
                        help="output mp4 (default: <video stem><scorer>_labeled.mp4 beside the "
                             "video)")
    parser.add_argument("--config", type=project_path,
                        help="project folder or config.yaml: skeleton, skeleton_color, pcutoff, "
                             "dotsize, colormap")
    parser.add_argument("--pcutoff", type=float,
                        help="hide points under this likelihood (default: config or 0.6)")
    parser.add_argument("--hollow", action="store_true",
                        help="draw points under pcutoff as rings instead of hiding them")
    parser.add_argument("--dotsize", type=float, help="point radius in pixels")
    parser.add_argument("--colormap", help="matplotlib colormap (default: config or rainbow)")


def main(args: argparse.Namespace) -> None:
    from train.post.labeled_video import labeled_video

    print(labeled_video(args.video, args.table, out=args.out, pcutoff=args.pcutoff,
                        config=args.config, dotsize=args.dotsize, colormap=args.colormap,
                        hollow=args.hollow))

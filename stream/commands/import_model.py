"""Turn a DeepLabCut 3 PyTorch snapshot or export_model file into a poseloop .pt2 model."""

import argparse

from stream.commands._arguments import existing_file, output_file


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", type=existing_file,
                        help="DeepLabCut snapshot (dlc-models-pytorch/.../train/"
                        "snapshot-*.pt) or export_model file")
    parser.add_argument("--config", type=existing_file,
                        help="its pytorch_config.yaml (default: beside a snapshot; "
                        "inside an export file)")
    parser.add_argument("--out", required=True, type=output_file, help="output .pt2")
    parser.add_argument("--scorer", help="scorer of the analyses (default: DeepLabCut's name "
                        "for this model, from the project's config.yaml)")


def main(args: argparse.Namespace) -> None:
    from train.model.dlc_import import import_dlc_model

    print(import_dlc_model(args.model, args.out, args.config, args.scorer))

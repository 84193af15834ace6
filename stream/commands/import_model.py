"""Turn a DeepLabCut 3 PyTorch snapshot or export_model file into a poseloop .pt2 model."""

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("model", help="DeepLabCut snapshot (dlc-models-pytorch/.../train/"
                                      "snapshot-*.pt) or export_model file")
    parser.add_argument("--config", help="its pytorch_config.yaml (default: beside a snapshot; "
                                         "inside an export file)")
    parser.add_argument("--out", required=True, help="output .pt2")
    parser.add_argument("--scorer", help="scorer of the analyses (default: DeepLabCut's name "
                                         "for this model, from the project's config.yaml)")


def main(args: argparse.Namespace) -> None:
    from train.model.dlc_import import import_dlc_model

    print(import_dlc_model(args.model, args.out, args.config, args.scorer))

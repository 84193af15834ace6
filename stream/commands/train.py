"""Train a pose network on a project's labeled frames (one shuffle)."""

import argparse

from stream.commands._arguments import add_project, existing_file, output_file


def weights(text: str) -> str:
    """``imagenet``, ``none`` or a state dict file."""
    return text if text in ("imagenet", "none") else existing_file(text)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    add_project(parser)
    parser.add_argument("--shuffle", type=int, default=1, help="shuffle number (default 1)")
    parser.add_argument("--net", help="resnet_18 | resnet_50 | resnet_101 | mobilenet_v3 | "
                        "mobilenet_v3_small | efficientnet_b0 | efficientnet_lite0 "
                        "(default: resnet_50 on a GPU, efficientnet_lite0 on a CPU)")
    parser.add_argument("--weights", type=weights,
                        help="imagenet | none | FILE (a backbone state dict)")
    parser.add_argument("--stride", type=int, choices=(4, 8, 16), help="output stride")
    parser.add_argument("--epochs", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float, help="peak learning rate")
    parser.add_argument("--crop", type=int, nargs=2, metavar=("H", "W"),
                        help="train on H x W crops around the animal")
    parser.add_argument("--input-scale", type=float, help="resize frames by this factor")
    parser.add_argument("--max-minutes", type=float, help="stop after this much training time")
    parser.add_argument("--save-every", type=int, help="epochs between snapshots")
    parser.add_argument("--seed", type=int)
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N")
    parser.add_argument("--threads", type=int,
                        help="CPU threads (1 is faster when other jobs share the cores)")
    parser.add_argument("--resume", action="store_true", help="continue from the latest snapshot")
    parser.add_argument("--test-images", nargs="+", metavar="IMAGE",
                        help="user split: these labeled images (labeled-data/<video>/<file>) test")
    parser.add_argument("--approach", choices=("topdown", "bottomup"),
                        help="several animals: top-down (find the animals, then the pose "
                        "network on a crop around each) or bottom-up (one pass, parts "
                        "assembled into animals); default: the one in the shuffle's "
                        "pytorch_config.yaml, else top-down (bottom-up with identity: true)")
    parser.add_argument("--no-augment", action="store_true", help="train without augmentation")
    parser.add_argument("--preview-augmentation", metavar="PNG", nargs="?", const="",
                        type=output_file,
                        help="write a picture of augmented samples and exit")


def main(args: argparse.Namespace) -> None:
    from train.model.trainer import preview_augmentation, train_network

    options = dict(net=args.net, weights=args.weights, stride=args.stride, epochs=args.epochs,
                   batch_size=args.batch_size, lr=args.lr, crop=args.crop,
                   input_scale=args.input_scale, max_minutes=args.max_minutes,
                   save_every=args.save_every, seed=args.seed, device=args.device,
                   threads=args.threads, augment=not args.no_augment)
    if args.preview_augmentation is not None:
        print(preview_augmentation(args.project, shuffle=args.shuffle,
                                   path=args.preview_augmentation or None, **options))
        return
    model_dir = train_network(args.project, shuffle=args.shuffle, resume=args.resume,
                              test_images=args.test_images, approach=args.approach, **options)
    print(model_dir.path)

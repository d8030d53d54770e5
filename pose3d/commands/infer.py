"""`pose3d infer`: 3D poses of every person in an image or a folder of images, from a trained checkpoint."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="estimate 3D poses on images with a trained checkpoint",
        description=(
            "Writes {name}.npy (people x 17 x 3, camera space mm) and {name}.json per image, summary.json, "
            "and with --visualize panels/{name}.png and contact_sheet.png. Without --config the backends "
            "are yolo + depthpro (weights from the flags); with --config they come from its infer: section."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help="trained model checkpoint (results/models/<model>/best.pt)")
    parser.add_argument("--input", required=True, help="an image file or a folder of images (searched recursively)")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--config", help="config.yaml: backends, weights, dataset root and infer: settings")
    parser.add_argument("--keypoints-backend", choices=["yolo", "dataset"], help="default: config, else yolo")
    parser.add_argument("--depth-backend", choices=["depthpro", "dataset"], help="default: config, else depthpro")
    parser.add_argument("--yolo-weights", help="local YOLO pose .pt file (nothing is downloaded)")
    parser.add_argument("--depth-model", help="local DepthPro directory or a cached hub id")
    parser.add_argument("--dataset-root", help="Human3.6M-layout root, for the dataset backends")
    parser.add_argument(
        "--intrinsics", nargs=4, type=float, metavar=("FX", "FY", "CX", "CY"),
        help="camera intrinsics in pixels for every image (default: dataset camera, else DepthPro's FOV estimate)",
    )
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: config, else auto)")
    parser.add_argument("--visualize", action=argparse.BooleanOptionalAction, default=None,
                        help="write the 2x2 panels and the contact sheet")
    parser.add_argument("--max-images", type=int, help="at most this many images (0 = all)")
    parser.add_argument("--confidence", type=float, help="yolo: minimum person confidence")
    parser.add_argument("--max-people", type=int, help="at most this many people per image")
    parser.add_argument("--batch-size", type=int, help="people per model call and images per detector call")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from pose3d.config import ConfigError, load_config
    from pose3d.inference import InferenceOptions, options_from_config, run_inference
    from pose3d.perception.base import PerceptionError

    try:
        if args.config:
            options = options_from_config(load_config(args.config))
        else:
            options = InferenceOptions(keypoints_backend="yolo", depth_backend="depthpro", visualize=False)
    except ConfigError as error:
        print(error)
        return 2
    flags = {
        "keypoints_backend": args.keypoints_backend, "depth_backend": args.depth_backend,
        "yolo_weights": args.yolo_weights, "depth_model": args.depth_model, "dataset_root": args.dataset_root,
        "intrinsics": args.intrinsics, "device": args.device, "visualize": args.visualize,
        "max_images": args.max_images, "confidence": args.confidence, "max_people": args.max_people,
        "batch_size": args.batch_size,
    }
    options = replace(options, **{key: value for key, value in flags.items() if value is not None})
    try:
        summary = run_inference(args.checkpoint, args.input, args.output, options)
    except (PerceptionError, FileNotFoundError, ValueError) as error:
        print(f"pose3d infer: {error}")
        return 2
    print(json.dumps({key: summary[key] for key in ("images_processed", "people_found", "images_per_second")}))
    return 0

"""`pose3d infer`: 3D poses of every person in an image or a folder of images, from a trained checkpoint."""

from __future__ import annotations

import argparse


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser(
        "infer",
        help="estimate 3D poses on images with a trained checkpoint",
        description=(
            "Writes {name}.npy (people x 17 x 3, camera space mm) and {name}.json per image, summary.json, "
            "and with --visualize panels/{name}.png and contact_sheet.png; for a video {name}.npy is "
            "frames x people x 17 x 3 and --visualize writes panels/{name}.mp4. Without --config the backends "
            "are yolo + depthpro (weights from the flags); with --config they come from its infer: section."
        ),
    )
    parser.add_argument("--checkpoint", required=True, help="trained model checkpoint (results/models/<model>/best.pt)")
    parser.add_argument("--input", required=True,
                        help="an image file, a folder of images (searched recursively) or a video file")
    parser.add_argument("--output", required=True, help="output folder")
    parser.add_argument("--config", help="config.yaml: backends, weights, dataset root and infer: settings")
    parser.add_argument("--keypoints-backend", choices=["yolo", "mediapipe", "dataset"], help="default: config, else yolo")
    parser.add_argument("--person-boxes", choices=["frame", "yolo"],
                        help="mediapipe: frame = the whole image (one person), yolo = one run per YOLO person box")
    parser.add_argument(
        "--depth-backend", choices=["depthpro", "dataset", "none"],
        help="default: config, else depthpro; none: no depth (a model that reads none, e.g. the lifter, never runs one)",
    )
    parser.add_argument("--yolo-weights", help="local YOLO pose .pt file (nothing is downloaded)")
    parser.add_argument("--depth-model", help="local DepthPro directory or a cached hub id")
    parser.add_argument("--dataset-root", help="Human3.6M-layout root, for the dataset backends")
    parser.add_argument(
        "--intrinsics", nargs=4, type=float, metavar=("FX", "FY", "CX", "CY"),
        help="camera intrinsics in pixels for every image (default: dataset camera, else EXIF, else DepthPro's "
        "FOV estimate, else a 60 degree horizontal FOV)",
    )
    parser.add_argument("--device", help="auto | cpu | cuda | cuda:N (default: config, else auto)")
    parser.add_argument("--visualize", action=argparse.BooleanOptionalAction, default=None,
                        help="write the 2x2 panels and the contact sheet")
    parser.add_argument("--max-images", type=int, help="at most this many images (0 = all)")
    parser.add_argument("--confidence", type=float, help="yolo: minimum person confidence")
    parser.add_argument("--max-people", type=int, help="at most this many people per image")
    parser.add_argument("--batch-size", type=int, help="people per model call and images per detector call")
    parser.add_argument("--smoothing", choices=["none", "one_euro"], help="video: temporal filter of the 3D joints")
    parser.add_argument("--overwrite", action="store_true", help="write into a folder that inference did not make")
    parser.set_defaults(run=run)


# Each flag's config key: flags are validated through the same schema as a config file.
FLAG_KEYS = {
    "--keypoints-backend": "infer.keypoints_backend",
    "--depth-backend": "infer.depth_backend",
    "--yolo-weights": "perception.keypoints.weights",
    "--depth-model": "perception.depth.model",
    "--dataset-root": "dataset.root",
    "--intrinsics": "infer.intrinsics",
    "--device": "perception.device",
    "--visualize": "infer.visualize",
    "--max-images": "infer.max_images",
    "--confidence": "infer.confidence",
    "--max-people": "infer.max_people",
    "--batch-size": "perception.keypoints.batch_size",
    "--person-boxes": "perception.keypoints.person_boxes",
    "--smoothing": "infer.smoothing",
}
# Without --config: detect people and estimate depth (no dataset), no panels.
STANDALONE = {"infer": {"keypoints_backend": "yolo", "depth_backend": "depthpro", "visualize": False}}


def run(args: argparse.Namespace) -> int:
    import json
    from dataclasses import replace

    from pose3d.config import ConfigError, config_with_flags, read_config_file
    from pose3d.inference import options_from_config, run_inference
    from pose3d.perception.base import PerceptionError
    from pose3d.validation import OutputConflictError, check_device, check_file_exists

    flags = {
        flag: (key, getattr(args, flag.removeprefix("--").replace("-", "_")))
        for flag, key in FLAG_KEYS.items()
    }
    try:
        raw = read_config_file(args.config) if args.config else STANDALONE
        # The checkpoint, not `infer.model`, says which model runs here (its depth needs are checked
        # against the loaded model), so the workflow's infer.model/depth_backend pairing check is off.
        raw = {**raw, "infer": {**(raw.get("infer") or {}), "enabled": False}}
        config = config_with_flags(raw, flags)
        check_file_exists(args.checkpoint, "--checkpoint", "checkpoint")
        check_device(config.perception.device, _named("--device", "perception.device", args.device))
        if config.infer.keypoints_backend == "yolo":
            check_file_exists(config.perception.keypoints.weights,
                              _named("--yolo-weights", "perception.keypoints.weights", args.yolo_weights), "YOLO weights")
    except ConfigError as error:
        print(f"pose3d infer: {error}")
        return 2
    options = options_from_config(config)
    if not args.config and args.dataset_root is None:
        options = replace(options, dataset_root=None)
    try:
        summary = run_inference(args.checkpoint, args.input, args.output, options, overwrite=args.overwrite)
    except (PerceptionError, FileNotFoundError, ValueError, OutputConflictError) as error:
        print(f"pose3d infer: {error}")
        return 2
    print(json.dumps({key: summary[key] for key in ("images_processed", "people_found", "images_per_second")}))
    return 0


def _named(flag: str, key: str, value: object) -> str:
    return f"{flag} (config key '{key}')" if value is not None else key

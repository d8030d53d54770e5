"""Inference throughput (images/s) and per-stage time split with tiny models on CPU.

Three runs on the same held-out synthetic images, measured in one process after a one-image
warm-up each (first-call costs such as YOLO's layer fusing are not counted):
  dataset 2D + dataset depth, no drawing   (the baseline: decoding, cropping, the model, files)
  dataset 2D + dataset depth, with panels  (what the 2x2 panels and the contact sheet cost)
  tiny YOLO + tiny DepthPro, with panels   (random weights built here; YOLO biased to find
                                            `max_people` people per image, so the model batch is full)
The pose model is the config's cnn (resnet18) at the default crop sizes. Real yolo11x-pose /
DepthPro time is dominated by the networks and needs a GPU; this measures what the stage adds
around them. The DepthPro field-of-view head is fixed at 60 degrees so every image gets
intrinsics ("depthpro_fov"). Writes benchmarks/results/infer.json.

    .venv/bin/python benchmarks/bench_infer.py [--quick]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.harness import offline_environment  # noqa: E402

offline_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer, smaller images (a smoke run)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "infer.json")
    args = parser.parse_args()

    import torch
    import yaml
    from transformers import DepthProForDepthEstimation
    from ultralytics import YOLO

    from pose3d.config import config_from_dict, deep_merge
    from pose3d.datasets.synthetic import generate_dataset
    from pose3d.inference import default_inference_images, options_from_config, run_inference
    from pose3d.models.registry import build_model
    from pose3d.testing.tiny_models import save_tiny_depthpro, save_tiny_yolo_pose

    torch.set_num_threads(args.threads)
    images, size = (4, 128) if args.quick else (16, 256)
    max_people = 3
    with tempfile.TemporaryDirectory(prefix="bench-infer-") as scratch:
        scratch = Path(scratch)
        base = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
        raw = deep_merge(base, {
            "dataset": {"root": str(scratch / "synthetic"), "subjects": [1, 9], "actions": [2, 14], "cameras": [1, 2]},
            "synthetic": {"frames_per_sequence": 8, "image_width": size, "image_height": size},
            "split": {"train_subjects": [1], "test_subjects": [9]},
            "perception": {"device": "cpu"},
            "infer": {"max_images": images, "max_people": max_people},
        })
        config = config_from_dict(raw)
        generate_dataset(config, scratch / "synthetic")
        checkpoint = scratch / "best.pt"
        model = build_model("cnn", config, "coco17")
        torch.save({"model": model.state_dict(), "model_name": "cnn", "config": config.to_dict(),
                    "keypoints_layout": "coco17"}, checkpoint)
        yolo_path = save_tiny_yolo_pose(scratch / "yolo-pose.pt")
        yolo = YOLO(str(yolo_path))
        with torch.no_grad():  # random weights find nobody; a high class bias makes every anchor a person
            for branch in yolo.model.model[-1].cv3:
                branch[-1].bias.fill_(8.0)
        yolo.save(str(yolo_path))
        depthpro = save_tiny_depthpro(scratch / "depthpro")
        dp_model = DepthProForDepthEstimation.from_pretrained(depthpro)
        with torch.no_grad():  # a random field-of-view head can say a negative angle: fix it at 60 degrees
            dp_model.fov_model.head.layers[-1].weight.zero_()
            dp_model.fov_model.head.layers[-1].bias.fill_(60.0)
        dp_model.save_pretrained(depthpro)

        inputs = default_inference_images(config)
        base_options = replace(options_from_config(config), device="cpu", progress=False)
        runs = {
            "dataset_no_panels": replace(base_options, visualize=False),
            "dataset_panels": replace(base_options, visualize=True),
            "tiny_yolo_depthpro_panels": replace(
                base_options, keypoints_backend="yolo", depth_backend="depthpro", yolo_weights=yolo_path,
                depth_model=depthpro, visualize=True,
            ),
        }
        results = {}
        for name, options in runs.items():
            run_inference(checkpoint, inputs[:1], scratch / f"warmup-{name}", options)  # first-call costs
            started = time.perf_counter()
            summary = run_inference(checkpoint, inputs, scratch / name, options)
            wall = time.perf_counter() - started
            stages = summary["stage_seconds"]
            per_image = {stage: round(1000 * seconds / max(1, summary["images_processed"]), 2)
                         for stage, seconds in stages.items() if stage != "setup"}
            work = sum(seconds for stage, seconds in stages.items() if stage != "setup")
            results[name] = {
                "images": summary["images_processed"],
                "people": summary["people_found"],
                "images_per_second": round(summary["images_processed"] / wall, 3),
                "images_per_second_after_setup": round(summary["images_processed"] / work, 3) if work else None,
                "setup_seconds": stages.get("setup", 0.0),
                "ms_per_image_by_stage": per_image,
            }
            print(f"{name}: {results[name]['images_per_second']} images/s, ms/image {per_image}")
    baseline = results["dataset_no_panels"]["images_per_second"]
    for entry in results.values():
        entry["speed_vs_baseline"] = round(entry["images_per_second"] / baseline, 3) if baseline else None
    report = {
        "benchmark": "infer",
        "quick": args.quick,
        "image_size": size,
        "model": "cnn (resnet18), crops 64/32",
        "torch_threads": args.threads,
        "baseline": "dataset_no_panels",
        "runs": results,
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
        "machine": {"python": platform.python_version(), "cpu_count": os.cpu_count(), "torch": torch.__version__},
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(report, indent=1) + "\n")
    print(f"wrote {args.output}")


if __name__ == "__main__":
    main()

"""Real photos offline: MediaPipe BlazePose + the keypoint lifter on the photos ultralytics ships.

For each photo (ultralytics' assets/bus.jpg and assets/zidane.jpg) it runs `run_inference` with
the mediapipe keypoint backend and no depth, and reports the PA-MPJPE between the lifter's 3D and
MediaPipe's own 3D (`pose_world_landmarks` mapped to Human3.6M-17). That is a CONSISTENCY figure
between two estimators, NOT an error against ground truth (these photos have none). The lifter
is `--checkpoint`, else the small one `pose3d.testing.lifter` trains here in seconds on fake
poses (no accuracy reference). Also times the stages, and the decode of each photo as its JPEG
(OpenCV, the baseline) and as HEIC (an iPhone's format, pillow-heif; made here from the JPEG).
Writes benchmarks/results/wild.json, and with --contact-sheet a small PNG of the photos' panels.

    .venv/bin/python benchmarks/bench_wild.py [--checkpoint results/models/lifter/best.pt] [--contact-sheet docs/in_the_wild.png]
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.harness import offline_environment, write_results  # noqa: E402

offline_environment()

PHOTOS = ("bus.jpg", "zidane.jpg")
DECODE_REPEATS = 20


def decode_times(assets: Path) -> dict:
    """Median ms to read each photo as JPEG (OpenCV) and as HEIC (pillow-heif), through pose3d.io.read_image."""
    import time

    import numpy as np

    from pose3d.io import read_image
    from pose3d.testing.heic import heic_from_jpeg

    times = {}
    with tempfile.TemporaryDirectory(prefix="bench-heic-") as scratch:
        for name in PHOTOS:
            heic = heic_from_jpeg(assets / name, Path(scratch) / f"{Path(name).stem}.heic")
            medians = {}
            for kind, path in (("jpeg", assets / name), ("heic", heic)):
                samples = []
                for _ in range(DECODE_REPEATS):
                    started = time.perf_counter()
                    read_image(path)
                    samples.append(time.perf_counter() - started)
                medians[kind] = round(1000 * float(np.median(samples)), 2)
            times[name] = {**medians, "heic_over_jpeg": round(medians["heic"] / medians["jpeg"], 2)}
    return times


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, help="a trained lifter (default: a small one trained here)")
    parser.add_argument("--threads", type=int, default=1, help="torch threads (the machine is shared)")
    parser.add_argument("--contact-sheet", type=Path, help="also write the panels' contact sheet here, 760 px wide")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "wild.json")
    args = parser.parse_args()

    import cv2
    import numpy as np
    import torch
    from ultralytics.utils import ASSETS

    from pose3d import io as files
    from pose3d.inference import InferenceOptions, run_inference
    from pose3d.metrics import pa_mpjpe
    from pose3d.testing.lifter import train_tiny_lifter

    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory(prefix="bench-wild-") as scratch:
        scratch = Path(scratch)
        checkpoint = args.checkpoint or train_tiny_lifter(scratch / "lifter")
        photos = scratch / "photos"
        photos.mkdir()
        for name in PHOTOS:
            shutil.copy(ASSETS / name, photos / name)
        options = InferenceOptions(keypoints_backend="mediapipe", depth_backend="none", device="cpu", progress=False)
        summary = run_inference(checkpoint, photos, scratch / "out", options)
        per_photo = {}
        for name in PHOTOS:
            result = json.loads((scratch / "out" / f"{name}.json").read_text())
            people = []
            for person in result["people"]:
                lifted = np.asarray(person["joints_3d_mm"])
                peer = np.asarray(person["mediapipe_world_mm"])
                people.append({
                    "pa_mpjpe_lifter_vs_mediapipe_mm": round(float(pa_mpjpe((lifted - lifted[0])[None], peer[None])[0]), 1),
                    "root_depth_mm": round(float(lifted[0, 2]), 0),
                    "reprojection": person["reprojection"],  # the lifter's 3D against MediaPipe's 2D
                })
            per_photo[name] = {"size": [result["image"]["width"], result["image"]["height"]],
                               "intrinsics_source": result["intrinsics"]["source"], "people": people}
        if args.contact_sheet:
            sheet = cv2.imread(str(scratch / "out" / "contact_sheet.png"))
            scale = 760 / sheet.shape[1]
            small = cv2.resize(sheet, (760, round(sheet.shape[0] * scale)), interpolation=cv2.INTER_AREA)
            files.write_png(args.contact_sheet, small[..., ::-1])
            print(f"wrote {args.contact_sheet}")
    decode = decode_times(ASSETS)
    results = {
        "benchmark": "wild",
        "inputs": "ultralytics assets bus.jpg, zidane.jpg; mediapipe 0.10.14 BlazePose (full), no depth, CPU",
        "lifter": str(args.checkpoint) if args.checkpoint else "pose3d.testing.lifter (small, trained on fake poses)",
        "figure": "PA-MPJPE between the lifter's 3D and MediaPipe's world landmarks: consistency of two "
                  "estimators, not an error against ground truth",
        "per_photo": per_photo,
        "stage_seconds": summary["stage_seconds"],
        "images_per_second": summary["images_per_second"],
        "decode_ms_per_photo": decode,
        "note": "wall-clock on a shared machine: noisy",
    }
    print(json.dumps({"per_photo": per_photo, "decode_ms_per_photo": decode}, indent=1))
    write_results(args.output, results)


if __name__ == "__main__":
    main()

"""Video panel drawing speed: OpenCV panels (`inference.fast_panels`) vs the matplotlib 2x2 figure.

Draws panels for 640x480 frames with three people (COCO-17 keypoints and Human3.6M-17 joints from
the template pose), OpenCV limited to one thread, and reports panels per second for each
renderer. The matplotlib figure (kept for still images) is timed on a few panels only. Timings
on a shared machine are noisy. Writes benchmarks/results/panels.json.

    .venv/bin/python benchmarks/bench_panels.py [--panels 200]
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
from benchmarks.harness import offline_environment, write_results  # noqa: E402

offline_environment()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--panels", type=int, default=200, help="OpenCV panels to draw")
    parser.add_argument("--matplotlib-panels", type=int, default=3, help="2x2 matplotlib panels to draw")
    parser.add_argument("--output", type=Path, default=REPO / "benchmarks" / "results" / "panels.json")
    args = parser.parse_args()

    import cv2
    import numpy as np

    from pose3d import geometry, skeleton
    from pose3d.inference.fast_panels import PanelRenderer
    from pose3d.inference.panels import panel_2x2
    from pose3d.testing.samples import TEMPLATE_MM

    cv2.setNumThreads(1)
    rng = np.random.default_rng(0)
    width, height, people = 640, 480, 3
    focal, centre = np.array([500.0, 500.0]), np.array([320.0, 240.0])
    joints = np.stack([TEMPLATE_MM + [x, 0, 4000] + rng.normal(0, 30, TEMPLATE_MM.shape) for x in (-900, 0, 900)])
    pixels = geometry.camera_to_pixel(joints, focal, centre)
    keypoints_h36m = np.concatenate([pixels, np.ones((people, 17, 1))], axis=-1)
    keypoints = skeleton.h36m_to_coco(keypoints_h36m)
    keypoints[~np.isfinite(keypoints)] = 0.0
    frames = [rng.integers(0, 256, (height, width, 3), dtype=np.uint8) for _ in range(8)]

    renderer = PanelRenderer(height)
    renderer.render(frames[0], keypoints, "coco17", joints)  # warm-up
    started = time.perf_counter()
    for index in range(args.panels):
        moved = joints + rng.normal(0, 5, joints.shape)
        panel = renderer.render(frames[index % len(frames)], keypoints, "coco17", moved)
    opencv_seconds = time.perf_counter() - started

    started = time.perf_counter()
    for index in range(args.matplotlib_panels):
        panel_2x2(frames[index % len(frames)], keypoints, "coco17", None, joints)
    matplotlib_seconds = time.perf_counter() - started

    results = {
        "benchmark": "panels",
        "inputs": f"{width}x{height} random frames, {people} people (template pose), one OpenCV thread",
        "note": "wall-clock on a shared machine: noisy",
        "opencv_panel_size": list(panel.shape[:2][::-1]),
        "opencv_panels": args.panels,
        "opencv_panels_per_second": round(args.panels / opencv_seconds, 1),
        "matplotlib_panels": args.matplotlib_panels,
        "matplotlib_panels_per_second": round(args.matplotlib_panels / matplotlib_seconds, 2),
    }
    print(results)
    write_results(args.output, results)


if __name__ == "__main__":
    main()

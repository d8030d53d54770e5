"""A small keypoint lifter trained in seconds on fake samples, for tests and benchmarks that need real 3D.

The samples are `samples.random_pose_mm` poses (the template perturbed, turned about the vertical
axis to any heading, 3-6 m from the camera) with their 2D projections, so the lifter learns
where a person stands and which way they face from where the 2D joints are. A plain loop over
in-memory tensors trains it (the Trainer, tested elsewhere, streams shards: minutes here), and
the checkpoint carries the keys `models.registry.load_model_from_checkpoint` reads. It is no
accuracy reference: its poses stay near the template.
"""

from __future__ import annotations

from pathlib import Path

LOWER_LEGS = (3, 6, 2, 5)  # Human3.6M-17 ankles, then knees
LIFTER_SETTINGS = {"hidden_dim": 256, "blocks": 2, "dropout": 0.0}


def train_tiny_lifter(
    out_dir: str | Path, samples: int = 4000, steps: int = 2000, batch_size: int = 128, seed: int = 0,
) -> Path:
    """Train the lifter (H36M-17 keypoints) for `steps` steps on `samples` fake samples; returns out_dir/best.pt."""
    import numpy as np
    import torch

    from pose3d import io as files
    from pose3d.config import config_from_dict
    from pose3d.models import build_model
    from pose3d.testing.config import tiny_config_dict

    out_dir = Path(out_dir)
    torch.manual_seed(seed)
    config = config_from_dict(tiny_config_dict(out_dir / "unused", model={"lifter": LIFTER_SETTINGS}))
    tensors = {key: torch.from_numpy(value) for key, value in fake_lifter_samples(samples, seed).items()}
    model = build_model("lifter", config, "h36m17")
    optimizer = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=1e-4)
    scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer, max_lr=2e-3, total_steps=steps)
    generator = np.random.default_rng(seed)
    model.train()
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # a tiny MLP: thread hand-offs cost more than the arithmetic
    try:
        _fit(model, optimizer, scheduler, tensors, samples, steps, batch_size, generator)
    finally:
        torch.set_num_threads(threads)
    model.eval()
    checkpoint = {
        "model": model.state_dict(), "model_name": "lifter", "config": config.to_dict(), "keypoints_layout": "h36m17",
    }
    path = out_dir / "best.pt"
    files.write_torch(path, checkpoint)
    return path


def fake_lifter_samples(count: int, seed: int = 0) -> dict:
    """`count` lifter inputs and targets: keypoints_2d (N, 17, 3) image pixels (crop = identity), intrinsics, joints_3d.

    Poses are `random_pose_mm` (50 mm spread per joint) with a body scale of 0.9-1.1, seen by
    cameras of 40-90 degree field of view, with 2D noise of 1 % of the person's height; 5 % of the
    joints and, in 30 % of the samples, the ankles (and knees) are missing (score 0), as when the
    frame cuts a person's legs off.
    """
    import numpy as np

    from pose3d import geometry
    from pose3d.testing.samples import random_pose_mm

    rng = np.random.default_rng(seed)
    keypoints, intrinsics, joints = [], [], []
    for _ in range(count):
        pose = random_pose_mm(rng, spread_mm=50.0)
        pose = pose[0] + (pose - pose[0]) * rng.uniform(0.9, 1.1)
        width, height = rng.choice([(640, 480), (1280, 720), (810, 1080), (1000, 1000)])
        focal = 0.5 * width / np.tan(np.radians(rng.uniform(40, 90)) / 2)
        camera = np.array([focal, focal, width / 2, height / 2])
        pixels = geometry.camera_to_pixel(pose, camera[:2], camera[2:])
        person_height = np.ptp(pixels[:, 1])
        pixels = pixels + rng.normal(0, 0.01 * person_height, size=pixels.shape)
        scores = (rng.random(17) >= 0.05).astype(np.float64)  # a joint now and then not detected
        if rng.random() < 0.3:  # legs cut off by the frame's bottom edge: ankles, or knees and ankles
            scores[list(LOWER_LEGS[: rng.integers(1, 3) * 2])] = 0.0
        scores[0] = 1.0
        keypoints.append(np.concatenate([pixels * scores[:, None], scores[:, None]], axis=1))
        intrinsics.append(camera)
        joints.append(pose)
    return {
        "keypoints_2d": np.asarray(keypoints, np.float32),
        "intrinsics": np.asarray(intrinsics, np.float32),
        "crop": np.tile(np.array([[0.0, 0.0, 1.0]], np.float32), (count, 1)),
        "joints_3d": np.asarray(joints, np.float32),
    }


def _fit(model, optimizer, scheduler, tensors, samples, steps, batch_size, generator) -> None:
    """L1 on root-relative joints plus a tenth of the root error (mm), `steps` random batches."""
    import torch

    for _ in range(steps):
        rows = torch.from_numpy(generator.integers(0, samples, batch_size))
        batch = {key: value[rows] for key, value in tensors.items()}
        output = model(batch)
        truth = batch["joints_3d"]
        relative = truth - truth[:, :1]
        loss = (output["joints_rel_mm"] - relative).abs().mean() + 0.1 * (output["root_mm"] - truth[:, 0]).abs().mean()
        optimizer.zero_grad(set_to_none=True)
        (loss / 100.0).backward()
        optimizer.step()
        scheduler.step()

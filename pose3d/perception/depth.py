"""Depth backends: Apple DepthPro through transformers, or the dataset's own depth maps.

Both give, per frame, a full-image depth map in metres (float32, 0 = no surface / unknown)
and a focal length in pixels: DepthPro estimates it with its field-of-view head, the
dataset backend reports the camera's mean focal (NaN when unknown).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from pose3d.config import Config
from pose3d.perception.base import Frame, PerceptionError, resolve_device
from pose3d.perception.error_models import DepthEstimatorErrors

log = logging.getLogger(__name__)


@dataclass
class DepthResult:
    """Depth of one frame: depth_m (H, W) float32 metres; focal_px float (NaN if unknown)."""

    depth_m: np.ndarray
    focal_px: float


class DepthProDepth:
    """DepthPro metric depth with the field-of-view head on, batched, bf16 autocast on CUDA.

    `model` is a local directory (config.json, model.safetensors, preprocessor_config.json)
    or a hub id already in the local Hugging Face cache; nothing is downloaded.
    """

    name = "depthpro"

    def __init__(self, model: str | Path, batch_size: int = 4, device: str = "auto") -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # a missing model fails at once instead of hanging
        import torch
        from transformers import AutoConfig, AutoImageProcessor, DepthProForDepthEstimation

        source = str(model)
        try:
            model_config = AutoConfig.from_pretrained(source, local_files_only=True)
            if not model_config.use_fov_model:
                log.warning("DepthPro model %s has no field-of-view head; it is added with random weights", source)
            # fp32 weights whatever the checkpoint stores (transformers 5 would keep the released fp16,
            # which crawls on a CPU); on CUDA the forward pass runs under bf16 autocast.
            self.model = DepthProForDepthEstimation.from_pretrained(
                source, use_fov_model=True, local_files_only=True, dtype=torch.float32
            )
            self.processor = AutoImageProcessor.from_pretrained(source, local_files_only=True)
        except OSError as error:
            hub_like = source.count("/") == 1 and not source.startswith((".", "/", "~"))
            cache_hint = (
                f", or, for the hub id {source!r}, fill the local Hugging Face cache on a machine with network "
                f"(`hf download {source}`) and copy it here" if hub_like else ""
            )
            raise PerceptionError(
                f"DepthPro model not found: {source!r} (config key 'perception.depth.model'). Nothing is "
                "downloaded: place config.json, model.safetensors and preprocessor_config.json in the directory "
                f"{Path(source).expanduser().resolve()}{cache_hint}. ({type(error).__name__}: {error})"
            ) from error
        self.device = resolve_device(device)
        self.model.to(self.device).eval()
        self.batch_size = batch_size
        self._torch = torch

    def __call__(self, frames: list[Frame]) -> list[DepthResult]:
        torch = self._torch
        results: list[DepthResult] = []
        for start in range(0, len(frames), self.batch_size):
            batch = frames[start : start + self.batch_size]
            images = [cv2.cvtColor(frame.image, cv2.COLOR_BGR2RGB) for frame in batch]
            inputs = self.processor(images=images, return_tensors="pt").to(self.device)
            on_cuda = self.device.startswith("cuda")
            with torch.inference_mode(), torch.autocast("cuda", dtype=torch.bfloat16, enabled=on_cuda):
                outputs = self.model(**inputs)
            outputs.predicted_depth = outputs.predicted_depth.float()
            if outputs.field_of_view is not None:
                outputs.field_of_view = outputs.field_of_view.float()
            sizes = [image.shape[:2] for image in images]
            for item in self.processor.post_process_depth_estimation(outputs, target_sizes=sizes):
                focal = item.get("focal_length")
                focal_px = float(focal) if focal is not None else float("nan")
                if not np.isfinite(focal_px) or focal_px <= 0:  # an untrained FOV head can go negative
                    focal_px = float("nan")
                depth = item["predicted_depth"].float().cpu().numpy().astype(np.float32)
                results.append(DepthResult(depth_m=depth, focal_px=focal_px))
        return results


class DatasetDepth:
    """The dataset's depth maps: uint16 PNG in millimetres (0 = no surface) -> float32 metres.

    `errors` (a `DepthEstimatorErrors`, the `realistic` error model) turns each exact map into
    what a monocular estimator outputs, drawing from a generator seeded with `seed`; without it
    the maps are the oracle. A missing or unreadable map gives None for that frame (the caller
    counts it as missing_depth); a map of the wrong type is an error naming the file.
    """

    name = "dataset"

    def __init__(self, errors: DepthEstimatorErrors | None = None, seed: int = 0) -> None:
        self.errors = errors
        self.rng = np.random.default_rng(seed)

    def __call__(self, frames: list[Frame]) -> list[DepthResult | None]:
        results = [self._read(frame) for frame in frames]
        if self.errors is not None:
            for result in results:
                if result is not None:
                    result.depth_m = self.errors(result.depth_m, self.rng)
        return results

    @staticmethod
    def _read(frame: Frame) -> DepthResult | None:
        if frame.depth_path is None or not Path(frame.depth_path).is_file():
            return None
        depth_mm = cv2.imread(str(frame.depth_path), cv2.IMREAD_UNCHANGED)
        if depth_mm is None:
            return None
        if depth_mm.dtype != np.uint16 or depth_mm.ndim != 2:
            raise PerceptionError(
                f"depth map {frame.depth_path}: expected a single-channel uint16 PNG in millimetres, "
                f"got {depth_mm.dtype} with shape {depth_mm.shape}"
            )
        focal_px = float(np.mean(frame.focal)) if frame.focal is not None else float("nan")
        return DepthResult(depth_m=depth_mm.astype(np.float32) / 1000.0, focal_px=focal_px)


DEPTH_BACKENDS = ("depthpro", "dataset")


def build_depth_backend(
    name: str,
    *,
    model: str | Path = "apple/DepthPro-hf",
    batch_size: int = 4,
    device: str = "cpu",
    errors: DepthEstimatorErrors | None = None,
    seed: int = 0,
    config_key: str = "perception.depth.backend",
) -> DepthProDepth | DatasetDepth:
    """The one factory of depth backends, for preprocess and inference alike.

    `depthpro`: the Hugging Face DepthPro model at `model`; `dataset`: the dataset's depth maps,
    through the estimator error model `errors` seeded by `seed` (None: the oracle).
    `config_key` names the setting in errors.
    """
    if name == "depthpro":
        return DepthProDepth(model, batch_size, device)
    if name == "dataset":
        return DatasetDepth(errors, seed)
    raise PerceptionError(
        f"config key {config_key!r}: unknown backend {name!r}; allowed values: {list(DEPTH_BACKENDS)}"
    )


def depth_backend_from_config(config: Config, seed: int = 0) -> DepthProDepth | DatasetDepth:
    """`build_depth_backend` with the `perception.depth` settings; `seed` feeds the dataset backend's error model."""
    settings = config.perception.depth
    errors = None
    if settings.error_model == "realistic":
        errors = DepthEstimatorErrors(settings.scale_log_std, settings.distortion, settings.noise, settings.edge_blur)
    return build_depth_backend(
        settings.backend, model=settings.model, batch_size=settings.batch_size, device=config.perception.device,
        errors=errors, seed=seed,
    )

"""Snakemake script of rule `infer`: a trained model on images -> poses, panels and summary.json."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.inference import default_inference_images, options_from_config, run_inference  # noqa: E402

config = config_from_dict(snakemake.config)  # noqa: F821
images = config.infer.images or default_inference_images(config)
run_inference(
    snakemake.input.checkpoint,  # noqa: F821
    images,
    Path(snakemake.output.summary).parent,  # noqa: F821
    options_from_config(config),
)

"""Snakemake script of rule `infer`: a trained model on images -> poses, panels and summary.json."""

import logging
import sys
from pathlib import Path

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

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

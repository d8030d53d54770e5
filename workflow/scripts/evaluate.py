"""Snakemake script of rule `evaluate`: best checkpoint on the test shards, beside the mean-pose baseline."""

import logging
import sys
from pathlib import Path

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

import torch  # noqa: E402

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.evaluate.run import evaluate_checkpoint  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
evaluate_checkpoint(
    snakemake.input.checkpoint,  # noqa: F821
    list(snakemake.input.test),  # noqa: F821
    list(snakemake.input.train),  # noqa: F821
    Path(snakemake.output.metrics).parent,  # noqa: F821
    config_from_dict(snakemake.config),  # noqa: F821
)

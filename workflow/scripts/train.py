"""Snakemake script of rule `train`: one model; torchrun (DDP) when train.gpus > 1.

Resumes from checkpoints/last.pt when it fits this run. On SIGTERM / SIGUSR1 it checkpoints and
exits non-zero, so Snakemake's retries (or a rerun) continue the training.
"""

import logging
import sys
from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

import torch  # noqa: E402

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.shards.reader import shard_source  # noqa: E402
from pose3d.training.launch import run_training  # noqa: E402
from pose3d.training.trainer import TrainingInterrupted  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
config = config_from_dict(snakemake.config)  # noqa: F821
# Rclone queries rebuilt from the config when storage.remote is set (read through the shard cache).
train_shards = [shard_source(config.storage, path) for path in snakemake.params.train_shards]  # noqa: F821
val_shards = [shard_source(config.storage, path) for path in snakemake.params.val_shards]  # noqa: F821
try:
    run_training(
        config,
        snakemake.wildcards.model,  # noqa: F821
        train_shards,
        val_shards,
        Path(snakemake.output.best).parent,  # noqa: F821
        output_stream=log_file,
        base_checkpoint=snakemake.input.base[0] if snakemake.input.base else None,  # noqa: F821
    )
except TrainingInterrupted as stopped:
    logging.getLogger("train").error("%s", stopped)
    sys.exit(75)  # EX_TEMPFAIL: the job failed, a retry continues it

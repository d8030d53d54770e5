"""Snakemake script of rule `train`: one model; torchrun (DDP) when train.gpus > 1.

Resumes from checkpoints/last.pt when it fits this run. On SIGTERM / SIGUSR1, and inside a SLURM job
train.stop_before_time_limit_minutes before its time limit, it checkpoints and exits 75, so
Snakemake's retries (or a rerun) continue the training.
"""

import logging
import sys
from pathlib import Path

from pose3d.logs import keep_attempt_log, log_to_file

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
out_dir = Path(snakemake.output.best).parent  # noqa: F821
try:
    run_training(
        config,
        snakemake.wildcards.model,  # noqa: F821
        train_shards,
        val_shards,
        out_dir,
        output_stream=log_file,
        base_checkpoint=snakemake.input.base[0] if snakemake.input.base else None,  # noqa: F821
    )
except TrainingInterrupted as stopped:
    logging.getLogger("train").error("%s", stopped)
    sys.exit(75)  # EX_TEMPFAIL: the job failed, a retry continues it
finally:
    # Every attempt's log, kept where Snakemake does not delete it (it clears the rule log on a retry).
    keep_attempt_log(snakemake.log[0], out_dir / "checkpoints" / "train_attempts.log")  # noqa: F821

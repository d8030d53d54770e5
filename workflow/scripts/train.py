"""Snakemake script of rule `train`: one model; torchrun (DDP) when train.gpus > 1."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

import torch  # noqa: E402

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.training.launch import run_training  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
config = config_from_dict(snakemake.config)  # noqa: F821
# Rclone queries when storage.remote is set: the library reads them through its shard cache.
train_shards = list(snakemake.params.train_sources)  # noqa: F821
test_shards = list(snakemake.params.test_sources)  # noqa: F821
run_training(
    config,
    snakemake.wildcards.model,  # noqa: F821
    train_shards,
    test_shards,
    Path(snakemake.output.best).parent,  # noqa: F821
    output_stream=log_file,
)

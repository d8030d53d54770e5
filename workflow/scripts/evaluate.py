"""Snakemake script of rule `evaluate`: best checkpoint on the test shards, beside the mean-pose baseline."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

import torch  # noqa: E402

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.evaluate.run import evaluate_checkpoint  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
config = config_from_dict(snakemake.config)  # noqa: F821
# Rclone queries when storage.remote is set: the library reads them through its shard cache.
train_shards = list(snakemake.params.train_sources)  # noqa: F821
test_shards = list(snakemake.params.test_sources)  # noqa: F821
evaluate_checkpoint(
    snakemake.input.checkpoint,  # noqa: F821
    test_shards,
    train_shards,
    Path(snakemake.output.metrics).parent,  # noqa: F821
    config,
)

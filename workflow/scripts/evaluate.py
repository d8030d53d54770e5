"""Snakemake script of rule `evaluate`: best checkpoint on the test shards, beside the mean-pose baseline."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

import torch  # noqa: E402

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.evaluate.run import evaluate_checkpoint  # noqa: E402
from pose3d.shards.reader import shard_source  # noqa: E402

torch.set_num_threads(snakemake.threads)  # noqa: F821
config = config_from_dict(snakemake.config)  # noqa: F821
# Rclone queries rebuilt from the config when storage.remote is set (read through the shard cache).
train_shards = [shard_source(config.storage, path) for path in snakemake.params.train_shards]  # noqa: F821
test_shards = [shard_source(config.storage, path) for path in snakemake.params.test_shards]  # noqa: F821
evaluate_checkpoint(
    snakemake.input.checkpoint,  # noqa: F821
    test_shards,
    train_shards,
    Path(snakemake.output.metrics).parent,  # noqa: F821
    config,
    protocol_frames=snakemake.params.protocol_frames,  # noqa: F821
)

"""Snakemake script of rule `shuffle`: the seeded global shuffle of the train shards."""

import logging
import sys

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

from pose3d.shards.ops import shuffle_shards  # noqa: E402

shuffle_shards(list(snakemake.input.shards), list(snakemake.output.shards), snakemake.params.seed)  # noqa: F821

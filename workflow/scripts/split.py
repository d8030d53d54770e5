"""Snakemake script of rule `split`: subject chunks -> train and test shards."""

import logging
import sys

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

from pose3d.shards.ops import split_by_subject  # noqa: E402

chunks = list(snakemake.input.chunks)  # noqa: F821
subjects = snakemake.params.subjects  # noqa: F821
split_by_subject(chunks, subjects["train"], list(snakemake.output.train))  # noqa: F821
split_by_subject(chunks, subjects["test"], list(snakemake.output.test))  # noqa: F821

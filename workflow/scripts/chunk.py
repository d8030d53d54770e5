"""Snakemake script of rule `chunk`: one subject's preprocessed sequences -> its shard."""

import json
import logging
import sys

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

from pose3d.chunk import chunk_subject  # noqa: E402
from pose3d.config import config_from_dict  # noqa: E402

report = chunk_subject(
    config_from_dict(snakemake.config),  # noqa: F821
    int(snakemake.wildcards.subject),  # noqa: F821
    list(snakemake.input.preprocessed),  # noqa: F821
    snakemake.output[0],  # noqa: F821
)
logging.getLogger("chunk").info("report: %s", json.dumps(report.as_dict()))

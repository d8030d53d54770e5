"""Snakemake script of rule `chunk`: one subject's preprocessed sequences -> its shard."""

import json
import logging

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.chunk import chunk_subject  # noqa: E402
from pose3d.config import config_from_dict  # noqa: E402

report = chunk_subject(
    config_from_dict(snakemake.config),  # noqa: F821
    int(snakemake.wildcards.subject),  # noqa: F821
    list(snakemake.input.preprocessed),  # noqa: F821
    snakemake.output[0],  # noqa: F821
)
logging.getLogger("chunk").info("report: %s", json.dumps(report.as_dict()))

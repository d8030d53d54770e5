"""Snakemake script of rule `preprocess`: perception for one sequence -> its HDF5 file and report."""

import logging
import sys
from pathlib import Path

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.preprocess import preprocess_sequence  # noqa: E402

preprocess_sequence(
    config_from_dict(snakemake.config),  # noqa: F821
    snakemake.wildcards.sequence,  # noqa: F821
    Path(snakemake.output.h5),  # noqa: F821
    Path(snakemake.output.report),  # noqa: F821
)

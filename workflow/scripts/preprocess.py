"""Snakemake script of rule `preprocess`: perception for one sequence -> its HDF5 file and report."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.preprocess import preprocess_sequence  # noqa: E402

preprocess_sequence(
    config_from_dict(snakemake.config),  # noqa: F821
    snakemake.wildcards.sequence,  # noqa: F821
    Path(snakemake.output.h5),  # noqa: F821
    Path(snakemake.output.report),  # noqa: F821
    index_path=Path(snakemake.input.index),  # noqa: F821
)

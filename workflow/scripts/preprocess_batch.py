"""Snakemake script of the packed preprocess rules: several sequences of a subject, models loaded once."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.preprocess import preprocess_sequences  # noqa: E402

preprocess_sequences(
    config_from_dict(snakemake.config),  # noqa: F821
    list(snakemake.params.sequences),  # noqa: F821
    [Path(path) for path in snakemake.output.h5],  # noqa: F821
    [Path(path) for path in snakemake.output.report],  # noqa: F821
    index_path=Path(snakemake.input.index),  # noqa: F821
)

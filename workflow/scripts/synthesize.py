"""Snakemake script of rule `synthesize`: render the synthetic Human3.6M-layout dataset + preview."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.datasets.synthetic import generate_dataset, write_preview  # noqa: E402

root = Path(snakemake.output.marker).parent  # noqa: F821
generate_dataset(config_from_dict(snakemake.config), root, workers=snakemake.threads)  # noqa: F821
write_preview(root, snakemake.output.preview)  # noqa: F821

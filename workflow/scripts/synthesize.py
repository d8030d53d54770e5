"""Snakemake script of rule `synthesize`: render the synthetic Human3.6M-layout dataset + preview."""

import logging
import sys
from pathlib import Path

log_file = open(snakemake.log[0], "w")  # noqa: F821, SIM115 - snakemake injects `snakemake`
sys.stderr = log_file  # tqdm and warnings go to the rule's log
logging.basicConfig(
    stream=log_file, level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s", force=True
)

from pose3d.config import config_from_dict  # noqa: E402
from pose3d.datasets.synthetic import generate_dataset, write_preview  # noqa: E402

root = Path(snakemake.output.marker).parent  # noqa: F821
generate_dataset(config_from_dict(snakemake.config), root, workers=snakemake.threads)  # noqa: F821
write_preview(root, snakemake.output.preview)  # noqa: F821

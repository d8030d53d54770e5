"""Snakemake script of rule `training_curves`: history.json -> training_curves.png."""

import json
from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.report import plot_training_curves  # noqa: E402

history = json.loads(Path(snakemake.input.history).read_text())  # noqa: F821
plot_training_curves(history, snakemake.output.curves, f"{snakemake.wildcards.model}: training curves")  # noqa: F821

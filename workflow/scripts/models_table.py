"""Snakemake script of rule `models_table`: every model's metrics.json -> results/report/models.html."""

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.report import write_models_table  # noqa: E402

write_models_table(list(snakemake.input.metrics), snakemake.output.table)  # noqa: F821

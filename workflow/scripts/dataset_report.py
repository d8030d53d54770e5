"""Snakemake script of rule `dataset_report`: write the dataset plan's report (built with the DAG)."""

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.datasets.catalog import write_report  # noqa: E402

write_report(snakemake.params.report, snakemake.output[0])  # noqa: F821

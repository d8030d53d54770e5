"""Snakemake script of rule `contact_sheet`: the inference contact sheet, for the report."""

from pathlib import Path

from pose3d.logs import log_to_file

log_file = log_to_file(snakemake.log[0])  # noqa: F821 - snakemake injects `snakemake`

from pose3d.report import copy_contact_sheet  # noqa: E402

copy_contact_sheet(Path(snakemake.input.summary).parent, snakemake.output.sheet)  # noqa: F821

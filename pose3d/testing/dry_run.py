"""The jobs a `snakemake --dry-run` lists, for tests that check what a config would run and ask for."""

from __future__ import annotations


def dry_run_jobs(output: str) -> list[dict[str, str]]:
    """Each job description of a dry run's output as {"rule": its rule, field: text} for the indented
    fields under it (input, output, wildcards, resources, ...), in the order listed."""
    jobs: list[dict[str, str]] = []
    for line in output.splitlines():
        if line.startswith(("rule ", "localrule ")):
            jobs.append({"rule": line.split()[1].rstrip(":")})
        elif jobs and line.startswith("    ") and ":" in line:
            field, _, text = line.strip().partition(":")
            jobs[-1].setdefault(field, text.strip())
    return jobs


def wildcard(job: dict[str, str], name: str) -> str | None:
    """The value of wildcard `name` in a job of `dry_run_jobs` (None when it has none)."""
    pairs = (item.strip().partition("=") for item in job.get("wildcards", "").split(","))
    return next((value for key, _, value in pairs if key == name), None)

"""Adapter of rule build_report: the self-contained HTML report."""

from snakemake.iocontainers import Snakemake

from harxai.logs import run_job
from harxai.report import build_report

snakemake: Snakemake

run_job(
    snakemake.log[0],
    build_report,
    output=snakemake.output[0],
    title=snakemake.params.title,
    config_json=snakemake.params.config_json,
    datasets=dict(snakemake.params.plan),
    runtime_csv=snakemake.input.runtime,
)

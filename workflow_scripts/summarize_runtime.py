"""Adapter of rule summarize_runtime: runtime of the explainers from benchmark files and HDF5 timings."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import summarize_runtime
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    summarize_runtime,
    plan=dict(snakemake.params.plan),
    output_csv=snakemake.output.csv,
    output_md=snakemake.output.md,
)

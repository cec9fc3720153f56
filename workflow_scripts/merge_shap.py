"""Adapter of rule merge_shap: background-weighted mean of the chunks plus reductions."""

from snakemake.iocontainers import Snakemake

from harxai.explain.jobs import merge_shap
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    merge_shap,
    explain_set_path=snakemake.input.explain_set,
    chunk_paths=list(snakemake.input.chunks),
    output_path=snakemake.output[0],
)

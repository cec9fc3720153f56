"""Adapter of rule select_background: SHAP background from the training split, in chunks."""

from snakemake.iocontainers import Snakemake

from harxai.explain.jobs import select_background
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    select_background,
    features_path=snakemake.input[0],
    output_path=snakemake.output[0],
    size=snakemake.params.size,
    chunk_size=snakemake.params.chunk_size,
    seed=snakemake.params.seed,
)

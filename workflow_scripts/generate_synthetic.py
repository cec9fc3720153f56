"""Adapter of rule generate_synthetic: writes a synthetic dataset in a real raw format."""

from snakemake.iocontainers import Snakemake

from harxai.data.jobs import generate_synthetic
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    generate_synthetic,
    out_dir=snakemake.output[0],
    params=dict(snakemake.params.synthetic),
    seed=snakemake.params.seed,
)

"""Adapter of rule select_explain_set: the validation samples to explain."""

from snakemake.iocontainers import Snakemake

from harxai.explain.jobs import select_explain_set
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    select_explain_set,
    features_path=snakemake.input.features,
    metrics_path=snakemake.input.metrics,
    output_path=snakemake.output[0],
    params=dict(snakemake.params.explain),
)

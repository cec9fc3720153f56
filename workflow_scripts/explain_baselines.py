"""Adapter of rule explain_baselines: the trivial baselines' maps of the explain set."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.explain.jobs import explain_baselines
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    explain_baselines,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    output_path=snakemake.output[0],
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

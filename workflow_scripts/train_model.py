"""Adapter of rule train_model: features.h5 -> model.pt + metrics.h5."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.logs import configure_job_logging, run_job
from harxai.models.jobs import train_model

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    train_model,
    features_path=snakemake.input[0],
    model_path=snakemake.output.model,
    metrics_path=snakemake.output.metrics,
    params=dict(snakemake.params.model),
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

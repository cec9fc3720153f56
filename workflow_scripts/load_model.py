"""Adapter of rule load_model: a checkpoint checked against the declared architecture."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.logs import configure_job_logging, run_job
from harxai.models.jobs import load_model

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    load_model,
    features_path=snakemake.input.features,
    checkpoint_path=snakemake.input.checkpoint,
    model_path=snakemake.output.model,
    metrics_path=snakemake.output.metrics,
    params=dict(snakemake.params.model),
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
)

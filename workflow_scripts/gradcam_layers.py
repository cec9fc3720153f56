"""Adapter of rule gradcam_layers: positive and negated GradCAM maps of every layer, one process."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.explain.jobs import gradcam_layers
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    gradcam_layers,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    output_paths=list(snakemake.output),
    layers=list(snakemake.params.layers),
    variant=snakemake.params.variant,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

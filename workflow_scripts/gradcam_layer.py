"""Adapter of rule gradcam_layer: positive and negated GradCAM maps of one layer."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.explain.jobs import gradcam_layer
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    gradcam_layer,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    output_path=snakemake.output[0],
    layer=snakemake.wildcards.layer,
    variant=snakemake.params.variant,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

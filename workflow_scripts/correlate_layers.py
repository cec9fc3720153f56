"""Adapter of rule correlate_layers: Spearman correlation of every GradCAM layer with the reference layer."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import correlate_layers
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    correlate_layers,
    gradcam_paths=dict(zip(snakemake.params.layers, snakemake.input.gradcam, strict=True)),
    reference=snakemake.params.reference,
    output_csv=snakemake.output.csv,
    output_md=snakemake.output.md,
    title=snakemake.wildcards.dataset,
)

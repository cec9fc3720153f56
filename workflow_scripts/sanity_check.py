"""Adapter of rule sanity_check: cascading randomisation of the model's parameters."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.evaluate.jobs import sanity_check
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    sanity_check,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    background_path=snakemake.input.background,
    output_csv=snakemake.output.csv,
    output_png=snakemake.output.png,
    methods=list(snakemake.params.methods),
    shap_absolute=bool(snakemake.params.shap_absolute),
    variant=snakemake.params.variant,
    samples=snakemake.params.samples,
    stages=snakemake.params.stages,
    background_rows=snakemake.params.background_rows,
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
    title=snakemake.wildcards.dataset,
)

"""Adapter of rule robustness: captum's sensitivity_max and infidelity of every method."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.evaluate.jobs import robustness
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    robustness,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    background_path=snakemake.input.background,
    output_csv=snakemake.output[0],
    methods=list(snakemake.params.methods),
    shap_absolute=bool(snakemake.params.shap_absolute),
    variant=snakemake.params.variant,
    samples=snakemake.params.samples,
    background_rows=snakemake.params.background_rows,
    spec=dict(snakemake.params.spec),
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

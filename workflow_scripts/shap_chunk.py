"""Adapter of rule shap_chunk: SHAP values of one sample part against one background chunk."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.explain.jobs import shap_chunk
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    shap_chunk,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    background_path=snakemake.input.background,
    output_path=snakemake.output[0],
    chunk=int(snakemake.wildcards.chunk),
    part=int(snakemake.wildcards.part),
    parts=snakemake.params.parts,
    backend=snakemake.params.backend,
    batch_size=snakemake.params.batch_size,
    completeness_tolerance=snakemake.params.completeness_tolerance,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

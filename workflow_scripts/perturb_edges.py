"""Adapter of rule perturb_edges: perturbation curve of one method's most or least important key points."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.evaluate.jobs import perturb_edges
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    perturb_edges,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    scores_path=snakemake.input.scores,
    output_h5=snakemake.output.h5,
    output_csv=snakemake.output.csv,
    method=snakemake.wildcards.method,
    selection=snakemake.wildcards.selection,
    spec=dict(snakemake.params.spec),
    max_keypoints=snakemake.params.max_keypoints,
    shap_absolute=bool(snakemake.params.shap_absolute),
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
)

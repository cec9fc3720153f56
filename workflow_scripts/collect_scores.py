"""Adapter of rule collect_scores: every method's aligned key-point scores in one file."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import collect_scores
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    collect_scores,
    explain_set_path=snakemake.input.explain_set,
    features_path=snakemake.input.features,
    shap_path=snakemake.input.shap,
    gradcam_paths=dict(zip(snakemake.params.layers, snakemake.input.gradcam, strict=True)),
    baselines_path=snakemake.input.baselines,
    output_path=snakemake.output[0],
)

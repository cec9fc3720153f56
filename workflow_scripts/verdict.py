"""Adapter of rule verdict: every method against every criterion, a figure and a paragraph."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import verdict
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    verdict,
    methods=list(snakemake.params.methods),
    areas_csv=snakemake.input.areas,
    sanity_csv=snakemake.input.sanity,
    robustness_csv=snakemake.input.robustness,
    shap_path=snakemake.input.shap,
    gradcam_paths=dict(zip(snakemake.params.layers, snakemake.input.gradcam, strict=True)),
    baselines_path=snakemake.input.baselines,
    output_csv=snakemake.output.csv,
    output_png=snakemake.output.png,
    output_md=snakemake.output.md,
    imputation=snakemake.params.imputation,
    shap_absolute=bool(snakemake.params.shap_absolute),
    ground_truth_csv=snakemake.input.get("ground_truth"),
    ground_truth_time_csv=snakemake.input.get("ground_truth_time"),
    title=snakemake.wildcards.dataset,
)

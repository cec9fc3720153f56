"""Adapter of rule rank_keypoints: key-point rankings per class of SHAP and every GradCAM layer."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import rank_keypoints
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    rank_keypoints,
    features_path=snakemake.input.features,
    explain_set_path=snakemake.input.explain_set,
    shap_path=snakemake.input.shap,
    gradcam_paths=dict(zip(snakemake.params.layers, snakemake.input.gradcam, strict=True)),
    output_csv=snakemake.output.csv,
    output_png=snakemake.output.png,
    shap_absolute=snakemake.params.shap_absolute,
    figure_layers=list(snakemake.params.figure_layers),
)

"""Adapter of rule rank_keypoints: key-point rankings per class of SHAP and every GradCAM layer."""

from snakemake.iocontainers import Snakemake

from harxai.evaluate.jobs import rank_keypoints
from harxai.logs import run_job

snakemake: Snakemake

run_job(
    snakemake.log[0],
    rank_keypoints,
    scores_path=snakemake.input[0],
    output_csv=snakemake.output.csv,
    output_png=snakemake.output.png,
    shap_absolute=snakemake.params.shap_absolute,
    figure_layers=list(snakemake.params.figure_layers),
)

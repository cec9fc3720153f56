"""Adapter of rule faithfulness: key-point and joint x time deletion and insertion at the input."""

from snakemake.iocontainers import Snakemake

from harxai.devices import select_device
from harxai.evaluate.jobs import faithfulness
from harxai.logs import configure_job_logging, run_job

snakemake: Snakemake

configure_job_logging(snakemake.log[0])
run_job(
    snakemake.log[0],
    faithfulness,
    model_path=snakemake.input.model,
    explain_set_path=snakemake.input.explain_set,
    background_path=snakemake.input.background,
    scores_path=snakemake.input.scores,
    output_curves_csv=snakemake.output.curves,
    output_areas_csv=snakemake.output.areas,
    output_png=snakemake.output.png,
    methods=list(snakemake.params.methods),
    shap_absolute=bool(snakemake.params.shap_absolute),
    imputations=list(snakemake.params.imputations),
    imputation=snakemake.params.imputation,
    max_cells=snakemake.params.max_cells,
    steps=snakemake.params.steps,
    samples=snakemake.params.samples,
    segment_frames=snakemake.params.segment_frames,
    draws=snakemake.params.draws,
    seed=snakemake.params.seed,
    device=select_device(snakemake.params.device, snakemake.resources.gpu),
    threads=snakemake.threads,
    title=snakemake.wildcards.dataset,
)

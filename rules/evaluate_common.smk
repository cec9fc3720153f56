"""Target lists, input functions and plans of the evaluation and report rules.

Included by the Snakefile before evaluate.smk and report.smk, so that those hold rules only
(snakemake --lint: no functions mixed with rules). Method names come from harxai.methods.
"""

from harxai.methods import METHOD_INPUT_X_GRADIENT, METHOD_MOTION_ENERGY, methods_of
from harxai.methods import verdict_methods
from harxai.evaluate.sources import SELECTIONS

EVALUATE = config["evaluate"]
# E perturbation: SHAP, the perturbation layers and the two baselines with a ranking (the
# random baseline is the random control itself).
PERTURBATION_METHODS = methods_of(EVALUATE["perturbation_layers"]) + [
    METHOD_MOTION_ENERGY,
    METHOD_INPUT_X_GRADIENT,
]
SYNTHETIC_DATASETS = [n for n, d in DATASETS.items() if d["kind"] in SYNTHETIC_KINDS]
VERDICT = EVALUATE["verdict"]
VERDICT_LAYERS = list(VERDICT.get("layers") or EVALUATE["perturbation_layers"])
VERDICT_METHODS = verdict_methods(VERDICT_LAYERS)
SEGMENT_FRAMES = max(
    1, round(VERDICT["segment_seconds"] * config["preprocess"]["target_fps"])
)
ROBUSTNESS_SPEC = {
    "perturb_radius": VERDICT["perturb_radius"],
    "noise_scale": VERDICT["noise_scale"],
    "n_perturb_samples": VERDICT["n_perturb_samples"],
}
_steps = VERDICT["steps"]
if _steps is not None and (
    _steps[0] != 0 or any(b <= a for a, b in zip(_steps, _steps[1:]))
):
    raise ValueError(
        f"evaluate.verdict.steps: {_steps} must start at 0 and increase strictly"
    )
if VERDICT["imputation"] not in VERDICT["imputations"]:
    raise ValueError(
        f"evaluate.verdict.imputation: {VERDICT['imputation']!r} is not among "
        f"evaluate.verdict.imputations {VERDICT['imputations']}"
    )

for _key, _layers in (
    ("perturbation_layers", EVALUATE["perturbation_layers"]),
    ("figure_layers", EVALUATE["figure_layers"]),
    ("verdict.layers", VERDICT_LAYERS),
):
    _unknown = [x for x in _layers if x not in LAYERS]
    if _unknown:
        raise ValueError(f"evaluate.{_key}: {_unknown} are not in gradcam.layers")
if EVALUATE["reference_layer"] not in LAYERS:
    raise ValueError(
        f"evaluate.reference_layer: {EVALUATE['reference_layer']!r} is not in gradcam.layers"
    )


def evaluation_targets(dataset):
    """Tables and figures of the evaluation stage for one dataset."""
    d = f"{model_dir(dataset)}/evaluate"
    targets = [
        f"{d}/rankings.csv",
        f"{d}/rankings.png",
        f"{d}/perturbation.png",
        f"{d}/perturbation_summary.csv",
        f"{d}/layer_correlation.csv",
        f"{d}/layer_correlation.md",
        f"{d}/faithfulness_areas.csv",
        f"{d}/faithfulness.png",
        f"{d}/sanity.csv",
        f"{d}/sanity.png",
        f"{d}/robustness.csv",
        f"{d}/verdict.csv",
        f"{d}/verdict.png",
        f"{d}/verdict.md",
    ]
    if EVALUATE["skeleton_samples"] > 0:
        targets.append(f"{d}/skeletons.png")
    if dataset in SYNTHETIC_DATASETS:
        targets += [
            f"{d}/oracle.csv",
            f"{d}/ground_truth.csv",
            f"{d}/ground_truth_time.csv",
            f"{d}/ground_truth.md",
        ]
    return targets


def get_verdict_inputs(wildcards):
    """The ground-truth tables of a synthetic dataset (none on real data)."""
    if wildcards.dataset not in SYNTHETIC_DATASETS:
        return {}
    d = f"{model_dir(wildcards.dataset)}/evaluate"
    return {
        "ground_truth": f"{d}/ground_truth.csv",
        "ground_truth_time": f"{d}/ground_truth_time.csv",
    }


def get_verdict_gradcam_files(wildcards):
    return expand(
        "{d}/gradcam/{layer}.h5",
        d=model_dir(wildcards.dataset),
        layer=VERDICT_LAYERS,
    )


def get_perturbation_curves(wildcards):
    return expand(
        "{d}/evaluate/perturbation/{method}_{selection}.h5",
        d=model_dir(wildcards.dataset),
        method=PERTURBATION_METHODS,
        selection=SELECTIONS,
    )


def get_dataset_dir(wildcards):
    return DATASETS[wildcards.dataset]["path"]


def get_perturbation_spec(wildcards):
    """Only the settings of the chosen mode, so changing the other mode's keys reruns nothing."""
    if EVALUATE["perturbation_mode"] == "isolate":
        return {"mode": "isolate"}
    return {
        "mode": "self_loop",
        "thresh": EVALUATE["thresh"],
        "zero_out": EVALUATE["zero_out"],
    }


VERDICT_RULES = (
    "explain_baselines",
    "oracle",
    "faithfulness",
    "sanity_check",
    "robustness",
    "verdict",
)
"""Rules of the verdict's criteria whose cost the runtime table lists."""


def runtime_plan():
    """Per dataset: the GradCAM and SHAP files and the benchmark files of their jobs."""
    plan = {}
    for ds in DATASETS:
        model = MODELS[ds]["name"]
        w = {"dataset": ds, "model": model}
        plan[ds] = {
            "gradcam": {
                layer: {
                    "h5": f"{model_dir(ds)}/gradcam/{layer}.h5",
                    "benchmark": gradcam_benchmark(ds, layer),
                }
                for layer in LAYERS
            },
            "shap": {
                "h5": f"{model_dir(ds)}/shap.h5",
                "benchmark": expand(rules.merge_shap.benchmark, **w)[0],
            },
            "shap_chunks": {
                f"{c}_{p}": expand(rules.shap_chunk.benchmark, chunk=c, part=p, **w)[0]
                for c in range(N_BACKGROUND_CHUNKS)
                for p in range(config["shap"]["sample_chunks"])
            },
            "evaluate": {
                name: expand(getattr(rules, name).benchmark, **w)[0]
                for name in VERDICT_RULES
                if name != "oracle" or ds in SYNTHETIC_DATASETS
            },
        }
    return plan


def get_runtime_inputs(wildcards):
    files = []
    for p in runtime_plan().values():
        files += [f for g in p["gradcam"].values() for f in (g["h5"], g["benchmark"])]
        files += [p["shap"]["h5"], p["shap"]["benchmark"], *p["shap_chunks"].values()]
        files += list(p["evaluate"].values())
    return files


def report_targets():
    """The self-contained HTML report and the runtime tables."""
    return ["results/report.html", "results/runtime.csv", "results/runtime.md"]


def report_plan():
    """Per dataset: the files the report shows (ground truth only for synthetic datasets)."""
    plan = {}
    for ds in DATASETS:
        d = f"{model_dir(ds)}/evaluate"
        files = {
            "metrics": f"{model_dir(ds)}/metrics.h5",
            "rankings_csv": f"{d}/rankings.csv",
            "rankings_png": f"{d}/rankings.png",
            "perturbation_png": f"{d}/perturbation.png",
            "perturbation_summary_csv": f"{d}/perturbation_summary.csv",
            "correlation_csv": f"{d}/layer_correlation.csv",
        }
        if EVALUATE["skeleton_samples"] > 0:
            files["skeletons_png"] = f"{d}/skeletons.png"
        files.update(
            {
                "verdict_csv": f"{d}/verdict.csv",
                "verdict_png": f"{d}/verdict.png",
                "faithfulness_png": f"{d}/faithfulness.png",
                "faithfulness_areas_csv": f"{d}/faithfulness_areas.csv",
                "sanity_png": f"{d}/sanity.png",
                "robustness_csv": f"{d}/robustness.csv",
                "rejected_csv": f"results/{ds}/rejected.csv",
            }
        )
        if ds in SYNTHETIC_DATASETS:
            files["ground_truth_csv"] = f"{d}/ground_truth.csv"
            files["ground_truth_time_csv"] = f"{d}/ground_truth_time.csv"
            files["oracle_csv"] = f"{d}/oracle.csv"
        plan[ds] = files
    return plan


def get_report_inputs(wildcards):
    return [f for files in report_plan().values() for f in files.values()]

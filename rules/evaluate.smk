def evaluation_targets(dataset):
    """Tables and figures of the evaluation stage for one dataset (filled in by evaluate rules)."""
    return []

"""Writing evaluation tables: CSV and Markdown, atomically."""

from __future__ import annotations

import math
from collections.abc import Sequence

import pandas as pd

from ..io import atomic_path, write_text_atomic
from .sources import PathLike


def _cell(value: object, digits: int) -> str:
    if isinstance(value, float):
        if math.isnan(value):
            return "n/a"
        return f"{value:.{digits}f}"
    return str(value).replace("|", "\\|")


def markdown_table(table: pd.DataFrame, digits: int = 3, columns: Sequence[str] | None = None) -> str:
    """Render a DataFrame as a GitHub-flavoured Markdown table (floats to ``digits`` decimals)."""
    cols = list(columns) if columns is not None else list(table.columns)
    lines = ["| " + " | ".join(cols) + " |", "|" + "|".join("---" for _ in cols) + "|"]
    for _, row in table[cols].iterrows():
        lines.append("| " + " | ".join(_cell(row[c], digits) for c in cols) + " |")
    return "\n".join(lines) + "\n"


def write_csv(table: pd.DataFrame, path: PathLike) -> None:
    """Write a table as CSV atomically (6 significant digits)."""
    with atomic_path(path) as tmp:
        table.to_csv(tmp, index=False, float_format="%.6g")


def write_markdown(text: str, path: PathLike) -> None:
    """Write Markdown text atomically."""
    write_text_atomic(path, text)

"""harxai: explain skeleton-based HAR graph convolutional networks with SHAP and GradCAM."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("harxai")
except PackageNotFoundError:  # pragma: no cover - running from a source tree without install
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]

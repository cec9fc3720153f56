"""Built-in synthetic benchmark: skeleton datasets with known class-defining joints.

:func:`generate_synthetic` writes NTU RGB+D-style ``.skeleton`` files or infant key-point
CSV tables (the real raw formats, read by :mod:`harxai.io.readers`) plus
``ground_truth.json`` naming the planted joints of every class.
"""

from .design import ClassDesign, candidate_joints, design_classes
from .generate import class_designs, generate_synthetic
from .params import SyntheticParams, SyntheticParamsError

__all__ = [
    "ClassDesign",
    "SyntheticParams",
    "SyntheticParamsError",
    "candidate_joints",
    "class_designs",
    "design_classes",
    "generate_synthetic",
]

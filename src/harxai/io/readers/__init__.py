"""Readers of raw skeleton formats: NTU ``.skeleton``, Kinetics-skeleton JSON, key-point CSV, OpenPose JSON.

Every reader returns a :class:`Recording` (coordinates (frame, channel, joint, person),
time stamps, interpolation count, key-point confidence) and rejects malformed input with one
:class:`ReaderError` (a ``ValueError``) whose one-line message names the file, the line or
frame when known, and the problem.
"""

from .common import Recording, fill_gaps
from .errors import ReaderError
from .keypoints_csv import read_keypoints_csv
from .kinetics import read_kinetics_json
from .manifest import Manifest, ManifestRow, read_ignore_list, read_manifest
from .ntu import NTU_NAME, NTUDenoise, NTUName, parse_ntu_name, parse_ntu_skeleton, read_ntu_skeleton
from .openpose import read_openpose_folder

__all__ = [
    "NTU_NAME",
    "Manifest",
    "ManifestRow",
    "NTUDenoise",
    "NTUName",
    "ReaderError",
    "Recording",
    "fill_gaps",
    "parse_ntu_name",
    "parse_ntu_skeleton",
    "read_ignore_list",
    "read_keypoints_csv",
    "read_kinetics_json",
    "read_manifest",
    "read_ntu_skeleton",
    "read_openpose_folder",
]

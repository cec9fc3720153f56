"""Input/output: HDF5 intermediates with provenance, atomic writes, readers of skeleton formats."""

from .atomic import atomic_directory, atomic_path, write_text_atomic
from .hdf5 import Array, HDF5Content, HDF5ContractError, read_hdf5, write_hdf5

__all__ = [
    "Array",
    "HDF5Content",
    "HDF5ContractError",
    "atomic_directory",
    "atomic_path",
    "read_hdf5",
    "write_hdf5",
    "write_text_atomic",
]

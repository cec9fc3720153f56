"""The data stage (rules/data.smk): raw files -> sequences.h5 -> windows.h5 -> features.h5.

The entry point of each rule is in :mod:`harxai.data.jobs`; the logic lives in
:mod:`harxai.synthetic`, :mod:`harxai.io.ingest`, :mod:`harxai.preprocess` and
:mod:`harxai.features`.
"""

"""Batches: a multi-file, ZIP or chunked upload followed as one unit, stage by stage.

A batch moves ``uploading`` -> (``unpacking`` for a ZIP) -> its documents' stages -> ``completed`` (or
``failed`` when the batch itself cannot go on: an archive refused, an upload that expired); the order comes
from the stage registry. Once its documents exist, its stage is the earliest stage any unfinished document is
in, so it only moves forward; it completes when every document is terminal, however many failed: one bad file
never fails the batch, it is counted and listed with its reason.

* :mod:`~lexintel.batches.tracker` follows live batches and emits their events;
* :mod:`~lexintel.batches.progress` computes a batch's counts, stage, progress and ETA from its documents;
* :mod:`~lexintel.batches.report` is the description ``GET /batches/{id}`` returns.

Turning uploads into batches is the upload package's job (intake, ZIP unpacking, chunked uploads).
"""

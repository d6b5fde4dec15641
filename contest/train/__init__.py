"""The training pipeline: architectures and presets, one member (member), members in parallel on
this machine (local) or on a Dask cluster (cluster), progress reporting, and the finishing stage
that writes the manifest and reports (finish)."""

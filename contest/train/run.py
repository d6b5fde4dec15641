"""`train_ensemble`: train (or finish) an ensemble, on this machine or on a Dask cluster.

The one place that chooses between the two: both start the same way (contest.train.plan: the
run identity, the members still to train) and end the same way (contest.train.finish: verify,
score, curves, manifest); only the training of the pending members differs.
"""
import sys
import time
from dataclasses import replace

from contest.modeldir.guard import guarded_training
from contest.train.cluster import require_dask, train_on_cluster
from contest.train.finish import finish_ensemble
from contest.train.local import train_locally
from contest.train.plan import start_run
from contest.train.progress import printer
from contest.train.recipes import describe_recipe


@guarded_training
def train_ensemble(settings, monitor_mode="lines", stream=None):
    """Train the members of `settings` that are not finished yet, then write the manifest;
    returns the manifest. monitor_mode: "bars", "lines" or "quiet" (contest.train.progress)."""
    started = time.time()
    distributed = require_dask() if settings.scheduler else None  # before anything is written
    data, todo = start_run(settings)
    settings = replace(settings, preset=data.preset, recipe=data.recipe, adapt=False)
    if distributed is not None:
        data.x_train = None  # the workers load their own copy
        workers = train_on_cluster(distributed, settings, data.run, todo,
                                   printer(monitor_mode, stream))
        settings = replace(settings, backend="dask")
    else:
        if monitor_mode != "quiet" and todo:  # the Dask path states it once connected
            print(data.source.header(), file=stream or sys.stderr, flush=True)
            if data.recipe is not None:
                print(describe_recipe(data.recipe, settings.preset), file=stream or sys.stderr,
                      flush=True)
        workers = train_locally(settings, data, todo, monitor_mode, stream)
        data.x_train = None  # the largest array (~170 MB for MNIST) is not needed any more
    return finish_ensemble(settings, data, trained=todo, workers=workers,
                           wall_seconds=time.time() - started)

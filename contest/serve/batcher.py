"""Micro-batching: small requests that arrive together share one forward pass.

One worker thread runs every prediction. While it is busy, new requests queue; when it is free it
takes everything queued (up to `max_images`) as one batch. A lone request is predicted at once
(no waiting window), and 16 concurrent single-image requests cost about one 16-image forward pass
instead of 16 one-image passes that each pay the per-call overhead of every layer.
"""
import queue
import threading
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np


def unit_float(pixels):
    """float32 copy in [0, 1] of checked uint8/float32 pixels (what `normalise` computes first),
    so requests of both kinds can share a batch."""
    if pixels.dtype == np.uint8:
        return pixels.astype(np.float32) / np.float32(255.0)
    return pixels.astype(np.float32, copy=False)


class MicroBatcher:
    """predict(pixels (N, C, H, W) float32) -> (M, N, K) run on one thread for queued requests."""

    def __init__(self, predict, max_images=1000):
        self.predict = predict
        self.max_images = max_images
        self.pending = queue.Queue()
        threading.Thread(target=self._serve, name="contest-batcher", daemon=True).start()

    def submit(self, pixels):
        """A Future of the (M, N, K) member probabilities of `pixels`."""
        future = Future()
        self.pending.put((unit_float(pixels), future))
        return future

    def _serve(self):
        while True:
            batch = [self.pending.get()]
            count = len(batch[0][0])
            while count < self.max_images:
                try:
                    item = self.pending.get_nowait()
                except queue.Empty:
                    break
                batch.append(item)
                count += len(item[0])
            self._run(batch)

    def _run(self, batch):
        futures = [future for _, future in batch]
        try:
            pixels = batch[0][0] if len(batch) == 1 else np.concatenate([p for p, _ in batch])
            members = self.predict(pixels)
        except Exception as exc:  # handed to every waiting request; the thread carries on
            for future in futures:
                future.set_exception(exc)
            return
        start = 0
        for pixels, future in batch:
            future.set_result(members[:, start:start + len(pixels)])
            start += len(pixels)


class MemberPool:
    """(M, N, K) member probabilities of unit-float pixels, each member a task on a pool of
    `threads` threads that lives as long as the server (`contest.modeldir.ensemble.map_on_cores`
    on it): no threads are started per request.

    A batch of at least SPLIT_IMAGES images is cut into parts so that every thread gets the same
    number of member x part tasks (5 members on 2 threads: 20 tasks of a quarter batch, not 5
    whole-batch tasks that leave one thread idle for a sixth of the time); smaller batches run
    one task per member, since each call pays every layer's fixed cost once."""

    SPLIT_IMAGES = 64

    def __init__(self, loaded, threads=None, processes=1):
        from nnlib.runtime.threads import available_cores

        self.models, self.normalisation = loaded.models, loaded.normalisation
        self.classes = loaded.spec.classes
        self.threads = threads or available_cores()
        self.pool = ThreadPoolExecutor(self.threads, "contest-member")
        # `processes` server processes share the cores: while small requests keep every one
        # busy, each runs its small batches on its share of the threads (one thread on 2 cores
        # with 2 processes: 18 ms instead of 26 ms per request at 16 connections), large ones
        # on all of them (a lone large request still gets every core)
        self.small_threads = max(1, self.threads // processes)

    def __call__(self, pixels, batch_size=1000):
        from contest.data.preprocess import apply_normalisation
        from contest.modeldir.ensemble import map_on_cores

        x = apply_normalisation(pixels, self.normalisation)
        out = np.empty((len(self.models), len(x), self.classes), dtype=np.float32)
        threads = self.threads if len(x) >= self.SPLIT_IMAGES else self.small_threads
        tasks = [(m, start, stop) for m in range(len(self.models))
                 for start, stop in balanced_parts(len(x), len(self.models), threads,
                                                   self.SPLIT_IMAGES)]

        def run(task):
            m, start, stop = task
            out[m, start:stop] = self.models[m].predict_proba(x[start:stop], batch_size)
        map_on_cores(run, tasks, threads, pool=self.pool if threads == self.threads else None)
        return out


def balanced_parts(n, members, threads, split_from):
    """[(start, stop)] parts of n images such that members x parts is a multiple of `threads`
    (one part when n < split_from or it already is)."""
    parts = 1
    if n >= split_from:
        while (members * parts) % threads:
            parts += 1
        parts *= 2   # two rounds per thread: the threads finish closer together
    bounds = np.linspace(0, n, min(parts, n) + 1).astype(int)
    return list(zip(bounds[:-1].tolist(), bounds[1:].tolist()))

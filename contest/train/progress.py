"""Live progress of members training in worker processes.

A member writes small JSON reports (`ProgressWriter`, an nnlib callback) to
OUT/.progress/member-K.json; a thread in the parent polls them (`ProgressMonitor`) and shows one
tqdm bar per member on a terminal (epoch, loss, accuracy, time left), one line per finished epoch
when the output is not a terminal, or nothing at all in quiet mode. Members trained on a Dask
cluster report once, when they finish (`finished_line`).
"""
import json
import sys
import threading
import time
from pathlib import Path

import nnlib as nn
from tqdm import tqdm

from contest.fileio import write_json
from contest.modeldir.files import PROGRESS_DIR

MODES = ("bars", "lines", "quiet")
STEPS = 1000  # bar steps per epoch


def progress_path(out_dir, index):
    return Path(out_dir) / PROGRESS_DIR / f"member-{index}.json"


def read_progress(path):
    """A worker's progress report, or None if absent or being replaced."""
    try:
        return json.loads(Path(path).read_text())
    except (OSError, ValueError):
        return None


def clean_progress(out_dir, indices):
    """Remove the reports of members `indices`, and the report directory once it is empty."""
    for k in indices:
        progress_path(out_dir, k).unlink(missing_ok=True)
    try:
        progress_path(out_dir, 0).parent.rmdir()
    except OSError:
        pass  # not empty (another run's reports) or already gone


class ProgressWriter(nn.Callback):
    """nnlib callback writing a small JSON progress report, read by the parent's progress bars."""

    def __init__(self, path, index, epochs, interval=0.5):
        self.path, self.index, self.epochs, self.interval = Path(path), index, epochs, interval
        self.epoch, self.val_acc, self.last = 0, None, 0.0

    def on_train_begin(self, state):
        self.epoch = len(state.history.epoch)
        self.started, self.finished = time.time(), []  # epochs finished in this run
        self._write({"batch": 0, "batches": 0, "loss": None, "acc": None}, "start")

    def on_epoch_begin(self, epoch, state):
        self.epoch = epoch

    def on_batch_end(self, batch, logs):
        if time.time() - self.last >= self.interval:
            self._write(logs, "batch")

    def on_epoch_end(self, epoch, logs):
        self.epoch, self.val_acc = epoch + 1, logs.get("val_acc")
        self.finished.append({"epoch": epoch + 1, "loss": logs.get("loss"), "acc": logs.get("acc"),
                              "val_acc": logs.get("val_acc"),
                              "elapsed": round(time.time() - self.started, 2)})
        self._write({**logs, "batch": 0, "batches": 0}, "epoch")

    def _write(self, logs, event):
        self.last = time.time()
        report = {"member": self.index, "event": event, "epoch": self.epoch, "epochs": self.epochs,
                  "batch": logs.get("batch", 0) + (1 if logs.get("batches") else 0),
                  "batches": logs.get("batches", 0), "loss": logs.get("loss"),
                  "acc": logs.get("acc"), "val_acc": self.val_acc,
                  "elapsed": round(self.last - self.started, 2), "finished": self.finished}
        write_json(self.path, report, fsync=False)


def choose_mode(quiet, stream=None):
    stream = stream or sys.stderr
    if quiet:
        return "quiet"
    return "bars" if getattr(stream, "isatty", lambda: False)() else "lines"


def describe(report):
    """'ep E/N loss L acc A% val V%' of a progress report or a finished epoch."""
    # during an epoch, show the epoch being trained (1-based); after it, the epochs completed
    epoch = report["epoch"] + (1 if report.get("event") == "batch" else 0)
    parts = [f"ep {min(epoch, report['epochs'])}/{report['epochs']}"]
    if report.get("loss") is not None:
        parts.append(f"loss {report['loss']:.4f} acc {100 * report['acc']:.2f}%")
    if report.get("val_acc") is not None:
        parts.append(f"val {100 * report['val_acc']:.2f}%")
    return " ".join(parts)


def finished_line(meta, worker, done, total):
    """One line for a member trained elsewhere: its last epoch's figures and where it ran."""
    history = meta["history"]["history"]
    last = {key: values[-1] for key, values in history.items() if values}
    epochs = len(meta["history"]["epoch"])
    figures = describe({"epoch": epochs, "epochs": epochs, "loss": last.get("loss"),
                        "acc": last.get("acc"), "val_acc": last.get("val_acc")})
    return (f"member {meta['index']}: {figures} ({meta['train_seconds']:.0f} s on {worker}; "
            f"{done}/{total} done)")


def printer(monitor_mode, stream=None):
    """say(line): print a progress line to `stream` (stderr), or nothing in quiet mode."""
    if monitor_mode == "quiet":
        return lambda line: None
    return lambda line: print(line, file=stream or sys.stderr, flush=True)


class ProgressMonitor:
    """Context manager showing the progress of `indices` (member numbers) trained in `out_dir`."""

    def __init__(self, out_dir, indices, epochs, mode="lines", stream=None, interval=0.5):
        if mode not in MODES:
            raise ValueError(f"mode must be one of {MODES}; received: {mode!r}")
        self.out_dir, self.indices, self.epochs = out_dir, list(indices), epochs
        self.mode, self.stream, self.interval = mode, stream or sys.stderr, interval
        self._stop = threading.Event()
        self._bars, self._printed = {}, {}

    def __enter__(self):
        for index in self.indices:
            progress_path(self.out_dir, index).unlink(missing_ok=True)
        if self.mode == "quiet" or not self.indices:
            return self
        if self.mode == "bars":
            self._open_bars()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc_info):
        if self.mode == "quiet" or not self.indices:
            return False
        self._stop.set()
        self._thread.join()
        self._poll()
        for bar in self._bars.values():
            bar.close()
        return False

    def _open_bars(self):
        fmt = "{desc} {percentage:3.0f}%|{bar:20}| [{elapsed}<{remaining}{postfix}]"
        for position, index in enumerate(self.indices):
            self._bars[index] = tqdm(total=self.epochs * STEPS, desc=f"member {index}",
                                     position=position, bar_format=fmt, file=self.stream,
                                     leave=True)

    def _run(self):
        while not self._stop.wait(self.interval):
            self._poll()

    def _poll(self):
        for index in self.indices:
            report = read_progress(progress_path(self.out_dir, index))
            if report is not None:
                self._show(index, report)

    def _show(self, index, report):
        if self.mode == "bars":
            self._update_bar(self._bars[index], report)
            return
        for epoch in report.get("finished", []):  # polls may miss short epochs: print all
            if epoch["epoch"] > self._printed.get(index, 0):
                self._printed[index] = epoch["epoch"]
                line = describe({**epoch, "epochs": report["epochs"]})
                print(f"member {index}: {line} ({epoch['elapsed']:.0f} s)", file=self.stream,
                      flush=True)

    @staticmethod
    def _update_bar(bar, report):
        fraction = report["batch"] / report["batches"] if report["batches"] else 0
        done = min(int((report["epoch"] + fraction) * STEPS), bar.total)
        bar.set_postfix_str(describe(report), refresh=False)
        bar.update(done - bar.n)  # whole steps: tqdm's rate and time left stay exact

"""Live progress of members training in worker processes.

Workers write small JSON reports (contest.train.member.ProgressWriter); a thread in the parent polls
them and shows one tqdm bar per member on a terminal (epoch, loss, accuracy, time left), one line
per finished epoch when the output is not a terminal, or nothing at all in quiet mode.
"""
import sys
import threading

from contest.train.member import progress_path, read_progress

MODES = ("bars", "lines", "quiet")
STEPS = 1000  # bar steps per epoch


def choose_mode(quiet, stream=None):
    stream = stream or sys.stderr
    if quiet:
        return "quiet"
    return "bars" if getattr(stream, "isatty", lambda: False)() else "lines"


def _describe(report):
    # during an epoch, show the epoch being trained (1-based); after it, the epochs completed
    epoch = report["epoch"] + (1 if report.get("event") == "batch" else 0)
    parts = [f"ep {min(epoch, report['epochs'])}/{report['epochs']}"]
    if report.get("loss") is not None:
        parts.append(f"loss {report['loss']:.4f} acc {100 * report['acc']:.2f}%")
    if report.get("val_acc") is not None:
        parts.append(f"val {100 * report['val_acc']:.2f}%")
    return " ".join(parts)


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
        from tqdm import tqdm

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
            bar = self._bars[index]
            fraction = report["batch"] / report["batches"] if report["batches"] else 0
            done = min(int((report["epoch"] + fraction) * STEPS), bar.total)
            bar.set_postfix_str(_describe(report), refresh=False)
            bar.update(done - bar.n)  # whole steps: tqdm's rate and time left stay exact
        else:
            for epoch in report.get("finished", []):  # polls may miss short epochs: print all
                if epoch["epoch"] > self._printed.get(index, 0):
                    self._printed[index] = epoch["epoch"]
                    line = _describe({**epoch, "epochs": report["epochs"]})
                    print(f"member {index}: {line} ({epoch['elapsed']:.0f} s)", file=self.stream,
                          flush=True)

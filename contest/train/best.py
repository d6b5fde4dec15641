"""`--restore-best`: a member ends with the weights of its epoch of best validation accuracy
(the earliest of ties), as Keras' EarlyStopping(restore_best_weights=True) without the stop.

The best weights so far are saved, atomically, to `member-K.best.npz` whenever an epoch beats
them, so an interrupted run resumes with them; the file is removed once the member is saved. A
member continued by --more-epochs starts from its restored best weights, so those are the best
until a later epoch beats their validation accuracy.
"""
import nnlib as nn


class RestoreBest(nn.Callback):
    def __init__(self, path):
        self.path = path
        self.best_epoch, self.best_acc = None, None

    def on_train_begin(self, state):
        self.model = state.model
        if self.path.exists():
            meta = nn.load_with_metadata(self.path)[1]
            self.best_epoch, self.best_acc = meta["best_epoch"], meta["best_val_acc"]
        accs = state.history.history["val_acc"]
        if not any(a is not None for a in accs):
            return
        # the model holds weights restored from a checkpoint: those of the last epoch, or of a
        # finished member's best epoch when --more-epochs continues it
        if self.best_acc is None:   # continuing a finished member, or stopped after epoch 0
            best = max(a for a in accs if a is not None)
            self._save(accs.index(best), best)
        elif accs[-1] is not None and accs[-1] > self.best_acc:   # stopped before this file
            self._save(len(accs) - 1, accs[-1])

    def on_epoch_end(self, epoch, logs):
        acc = logs.get("val_acc")
        if acc is not None and (self.best_acc is None or acc > self.best_acc):
            self._save(epoch, acc)

    def on_train_end(self, state):
        if self.path.exists():
            nn.load_weights(state.model, self.path)

    def _save(self, epoch, acc):
        self.best_epoch, self.best_acc = int(epoch), float(acc)
        nn.save(self.model, self.path,
                metadata={"best_epoch": self.best_epoch, "best_val_acc": self.best_acc})

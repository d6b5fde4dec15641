"""Block training of per-sample networks on helper processes.

A network whose every layer treats each image on its own (registered `per_sample`: convolutions,
pooling, element-wise activations, Dense; no BatchNorm statistics, no random draws) can train a
batch as independent blocks of BLOCK images: each block goes forward and back on its own, and
only the weight gradients meet, summed over the blocks in order. The planner
(`nnlib.runtime.plan`) trains such networks this way when nnlib has several threads.

With n nnlib threads (`set_num_threads(n)`), the blocks are shared out over this process and
n - 1 helper processes, forked (this needs the `fork` start method: Linux, macOS) at the first
training step of a model in blocks. This is deliberate: it is where most of the multi-core
speed-up of such networks comes from.
Processes, not threads: NumPy releases the GIL inside each operation, but two threads still
queue for it between operations, and on a 2-core machine that costs arch A 15-25 % of each
core (measured: two threads of a training step reach 1.3-1.5x one thread, two processes 1.9x).
A helper is forked once per model and thread count; weights, images, outputs and gradients
travel through shared memory, and each step costs two short messages on a pipe.

Results do not depend on the thread count: every block runs the same code on one thread
wherever it runs, and the per-block gradients are summed in block order here.
"""
import mmap
import os
import signal
import weakref

import numpy as np

from .blas import set_blas_threads
from .constants import BLOCK
from .threads import block_bounds, get_num_threads, inline, set_num_threads, shard_bounds


class _SharedParam:
    """A replica's parameter: the weights of the original, a gradient of its own."""

    def __init__(self, param):
        self._param, self.grad = param, np.zeros_like(param.value)

    @property
    def value(self):
        return self._param.value


def replica(layer):
    """A shallow copy of `layer` sharing its weights, with gradients (and caches) of its own."""
    import copy
    twin = copy.copy(layer)
    twin.params = {k: _SharedParam(p) for k, p in layer.params.items()}
    return twin


def _parameters(layers):
    return [p for layer in layers for p in layer.params.values()]


def shared_array(shape, dtype):
    """A zeroed array in anonymous shared memory: a forked child and its parent see each
    other's writes."""
    count = int(np.prod(shape))
    buf = mmap.mmap(-1, max(1, count * np.dtype(dtype).itemsize))
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)


class BlockTrainer:
    """One model's training step in blocks: the first share of blocks here, on layer
    replicas, the others on helper processes. `forward` then `backward`, like the model."""

    def __init__(self, layers, run_forward, run_backward):
        self.layers, self.run_forward, self.run_backward = list(layers), run_forward, run_backward
        self.replicas, self.helpers, self.key, self.pending = [], [], None, None
        self._finalizer = None

    def _replicas(self, count):
        while len(self.replicas) < count:
            self.replicas.append([replica(layer) for layer in self.layers])
        return self.replicas[:count]

    def _ensure_helpers(self, count, x, per_share):
        """`count` helpers able to take `per_share` blocks of images shaped like x's."""
        params = _parameters(self.layers)
        dtype = np.result_type(x.dtype, *[p.value.dtype for p in params])
        key = (count, x.shape[1:], dtype, per_share)
        if self.key == key:
            return
        self.close()
        if not count:
            self.key = key
            return
        out_shape = tuple(x.shape[1:])
        for layer in self.layers:
            out_shape = tuple(layer.output_shape(out_shape))
        images = per_share * BLOCK
        self.helpers = [_Helper(self, images, x.shape[1:], out_shape, dtype, per_share)
                        for _ in range(count)]
        self.key = key
        self._finalizer = weakref.finalize(self, _close_helpers, self.helpers)

    def forward(self, x):
        return self._guarded(self._forward, x)

    def backward(self, grad, input_grad, params):
        """Back-propagate `grad` through every block; fill `params`' gradients with the sums
        over the blocks in order; the input gradient (or None)."""
        return self._guarded(self._backward, grad, input_grad, params)

    def _guarded(self, step, *args):
        # an error or Ctrl-C between a message and its reply would leave a reply in the pipe
        # for the next step to misread: stop the helpers instead (new ones start next time)
        try:
            return step(*args)
        except BaseException:
            self.pending = None
            self.close()
            raise

    def _forward(self, x):
        bounds = block_bounds(len(x))
        shares = shard_bounds(len(bounds), get_num_threads())
        self._ensure_helpers(len(shares) - 1, x, max(b - a for a, b in shares))
        starts = [(bounds[i0][0], bounds[i1 - 1][1]) for i0, i1 in shares]
        for helper, (a, b) in zip(self.helpers, starts[1:]):
            helper.send_forward(x[a:b])
        own, replicas = [], self._replicas(shares[0][1])
        with inline():
            for i in range(*shares[0]):
                a, b = bounds[i]
                own.append(self.run_forward(replicas[i], x[a:b]))
        outs = [y for y, _ in own]
        outs += [h.receive_forward(b - a) for h, (a, b) in zip(self.helpers, starts[1:])]
        self.pending = (bounds, shares, starts, [steps for _, steps in own])
        return np.concatenate(outs)

    def _backward(self, grad, input_grad, params):
        if self.pending is None:
            raise RuntimeError("backward needs a forward pass with training=True first")
        bounds, shares, starts, steps = self.pending
        self.pending = None
        for helper, (a, b) in zip(self.helpers, starts[1:]):
            helper.send_backward(grad[a:b], input_grad)
        dxs = []
        with inline():
            for k, i in enumerate(range(*shares[0])):
                a, b = bounds[i]
                dxs.append(self.run_backward(self.replicas[k], steps[k], grad[a:b], input_grad))
        parts = [[p.grad for p in _parameters(self.replicas[k])] for k in range(len(steps))]
        for helper, (a, b) in zip(self.helpers, starts[1:]):
            dx, grads = helper.receive_backward(b - a, input_grad, params)
            dxs.append(dx)
            parts.extend(grads)
        for j, p in enumerate(params):
            np.copyto(p.grad, parts[0][j])
            for block in parts[1:]:
                p.grad += block[j]
        return np.concatenate(dxs) if input_grad else None

    def close(self):
        if self._finalizer is not None:
            self._finalizer()
        self.helpers, self.key, self._finalizer = [], None, None


def _close_helpers(helpers):
    for helper in helpers:
        helper.close()


class _Helper:
    """A forked process that runs a share of the blocks; buffers in shared memory."""

    def __init__(self, trainer, images, in_shape, out_shape, dtype, blocks):
        params = _parameters(trainer.layers)
        self.params = params
        self.offsets = np.concatenate([[0], np.cumsum([p.value.size for p in params])]).astype(int)
        # the weights go over at every forward (under 1 MB for arch A: ~0.1 ms), so the
        # parent's arrays stay where they are, whoever holds them
        self.weights = [shared_array(p.value.shape, p.value.dtype) for p in params]
        self.x = shared_array((images,) + tuple(in_shape), dtype)
        self.dx = shared_array((images,) + tuple(in_shape), dtype)
        self.y = shared_array((images,) + tuple(out_shape), dtype)
        self.dy = shared_array((images,) + tuple(out_shape), dtype)
        self.grads = shared_array((blocks, int(self.offsets[-1])), dtype)
        import multiprocessing   # here: `import nnlib` stays quick
        ctx = multiprocessing.get_context("fork")
        self.conn, child = ctx.Pipe()
        # not daemonic (a daemonic process, such as a pool worker, may not start those): it
        # leaves when the parent closes the pipe, on close() or at exit, or dies
        self.process = ctx.Process(target=_serve, args=(child, self, trainer), name="nnlib-blocks")
        self.process.start()
        child.close()

    def send_forward(self, x):
        for shared, p in zip(self.weights, self.params):
            np.copyto(shared, p.value)
        self.x[:len(x)] = x
        self._send(("forward", len(x), False))

    def receive_forward(self, n):
        self._reply()
        return self.y[:n].copy()

    def send_backward(self, grad, input_grad):
        self.dy[:len(grad)] = grad
        self._send(("backward", len(grad), input_grad))

    def receive_backward(self, n, input_grad, params):
        self._reply()
        o = self.offsets
        grads = [[self.grads[k, o[j]:o[j + 1]].reshape(p.grad.shape) for j, p in enumerate(params)]
                 for k in range(len(block_bounds(n)))]
        return (self.dx[:n].copy() if input_grad else None), grads

    def _send(self, message):
        try:
            self.conn.send(message)
        except OSError:
            self._died()

    def _reply(self):
        try:
            status, message = self.conn.recv()
        except (EOFError, OSError):
            self._died()
        if status != "ok":
            raise RuntimeError(f"nnlib block helper: {message}")

    def _died(self):
        self.process.join(timeout=1)
        raise RuntimeError(f"an nnlib block helper process died (exit code "
                           f"{self.process.exitcode})") from None

    def close(self):
        try:
            self.conn.send(("stop", 0, False))
        except OSError:
            pass   # already gone
        self.conn.close()
        self.process.join(timeout=5)
        if self.process.is_alive():
            self.process.terminate()
            self.process.join()


def _serve(conn, helper, trainer):
    """The helper's loop: run forward/backward commands on its share of blocks until the
    parent closes the pipe (or dies)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)   # Ctrl-C is the parent's to handle
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    helper.conn.close()   # the parent's end, inherited
    parent = os.getppid()
    set_num_threads(1)
    set_blas_threads(1)   # a helper process is one share of the work: one core
    work = _HelperWork(helper, trainer)
    while True:
        try:
            # other helpers forked later hold this pipe's parent end too, so EOF may never
            # come: leave on "stop", or once the parent is gone
            if not conn.poll(1.0):
                if os.getppid() != parent:
                    os._exit(0)
                continue
            command, n, input_grad = conn.recv()
        except (EOFError, OSError):
            os._exit(0)
        if command == "stop":
            os._exit(0)
        try:
            work.run(command, n, input_grad)
            conn.send(("ok", None))
        except Exception as e:   # reported to the parent, which raises it
            conn.send(("error", f"{type(e).__name__}: {e}"))


class _HelperWork:
    """What a helper process computes: its blocks' forward and backward passes, on layer
    replicas, with inputs and results in the shared buffers of `helper`."""

    def __init__(self, helper, trainer):
        self.helper, self.trainer, self.replicas, self.steps = helper, trainer, [], []

    def run(self, command, n, input_grad):
        bounds = block_bounds(n)
        while len(self.replicas) < len(bounds):
            self.replicas.append([replica(layer) for layer in self.trainer.layers])
        if command == "forward":
            self.forward(bounds)
        else:
            self.backward(bounds, input_grad)

    def forward(self, bounds):
        helper = self.helper
        for shared, p in zip(helper.weights, helper.params):   # the child's copies
            np.copyto(p.value, shared)
        self.steps = []
        for k, (a, b) in enumerate(bounds):
            y, ran = self.trainer.run_forward(self.replicas[k], helper.x[a:b])
            helper.y[a:b] = y
            self.steps.append(ran)

    def backward(self, bounds, input_grad):
        helper = self.helper
        for k, (a, b) in enumerate(bounds):
            dx = self.trainer.run_backward(self.replicas[k], self.steps[k], helper.dy[a:b],
                                           input_grad)
            if input_grad:
                helper.dx[a:b] = dx
            for j, p in enumerate(_parameters(self.replicas[k])):
                helper.grads[k, helper.offsets[j]:helper.offsets[j + 1]] = p.grad.ravel()

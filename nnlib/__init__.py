"""nnlib: a small NumPy neural-network library (NCHW images, float32 by default).

See docs/nnlib-api.md for the API. Imports the standard library and numpy only, and importing
it changes no process state (no threads, no fork hooks, no umask or malloc settings).

Layout: `nnlib.ops` (pure array kernels), `nnlib.layers` (layers with one forward and one
backward each, registered in `nnlib.layers.registry`), `nnlib.runtime` (the planner that runs a
Sequential, threads, helper processes, memory setting, and the constants that fix the numbers).
"""
from .gradcheck import check_layer_gradients, numerical_gradient
from .layers import (LAYER_TYPES, AvgPool2D, BatchNorm, Conv2D, Dense, Dropout, Flatten, Layer,
                     MaxPool2D, Param, ReLU, Sigmoid, Softmax, Tanh, register_layer)
from .introspect import loss_input_gradient
from .losses import BinaryCrossEntropy, MeanSquaredError, SoftmaxCrossEntropy
from .model import Sequential
from .optim import OPTIMIZERS, SGD, AdaDelta, AdaGrad, Adam, AdamW, Optimizer, RMSProp
from .runtime.memory import retain_freed_memory
from .runtime.threads import get_num_threads, set_num_threads
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, OneCycleLR, StepLR
from .serialization import load, load_optimizer_state, load_weights, load_with_metadata, save
from .training import (Callback, EarlyStopping, History, LambdaCallback, TrainingState,
                       evaluate, fit)

check_gradients = check_layer_gradients

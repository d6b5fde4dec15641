"""nnlib: a small NumPy neural-network library (NCHW images, float32 by default).

See DESIGN.md and docs/nnlib-api.md for the contract. Imports numpy only.
"""
from .activations import Dropout, ReLU, Sigmoid, Tanh
from .batchnorm import BatchNorm
from .gradcheck import check_layer_gradients, numerical_gradient
from .layers import AvgPool2D, Conv2D, Dense, Flatten, Layer, MaxPool2D, Param
from .losses import SoftmaxCrossEntropy
from .model import Sequential
from .optim import (OPTIMIZERS, SGD, AdaDelta, AdaGrad, Adam, AdamW, Optimizer, RMSProp,
                    l1_penalty, l2_penalty)
from .schedules import CosineAnnealingLR, ExponentialLR, LRScheduler, OneCycleLR, StepLR
from .serialization import load, load_optimizer_state, load_weights, load_with_metadata, save
from .threads import get_num_threads, set_num_threads
from .training import (Callback, EarlyStopping, History, LambdaCallback, TrainingState,
                       evaluate, fit)

check_gradients = check_layer_gradients

LAYER_TYPES = {c.__name__: c for c in (Dense, Conv2D, MaxPool2D, AvgPool2D, Flatten, ReLU,
                                       Sigmoid, Tanh, Dropout, BatchNorm)}

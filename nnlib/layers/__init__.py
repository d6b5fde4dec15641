"""Layers: parameter holders with one forward and one backward each, built on `nnlib.ops`.

Every layer class registers itself (`nnlib.layers.registry`), declaring whether it takes an rng
and what the runtime planner may assume about it.
"""
from .activations import Dropout, ReLU, Sigmoid, Tanh
from .base import Layer, Param
from .batchnorm import BatchNorm
from .conv import Conv2D
from .dense import Dense
from .output import Softmax
from .pool import AvgPool2D, Flatten, MaxPool2D
from .registry import LAYER_TYPES, LayerInfo, layer_class, layer_info, register_layer

__all__ = ["AvgPool2D", "BatchNorm", "Conv2D", "Dense", "Dropout", "Flatten", "LAYER_TYPES",
           "Layer", "LayerInfo", "MaxPool2D", "Param", "ReLU", "Sigmoid", "Softmax", "Tanh",
           "layer_class",
           "layer_info", "register_layer"]

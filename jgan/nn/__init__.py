"""Layers to build G and D with: Flax linen modules with Flax's parameters and fields, fast on
every backend (`impl`: see `jgan.nn.convolution`)."""
from jgan.nn.convolution import IMPLS, Conv, ConvTranspose, conv, conv_transpose
from jgan.nn.dropout import Dropout
from jgan.nn.norm import BatchNorm

__all__ = ["IMPLS", "BatchNorm", "Conv", "ConvTranspose", "Dropout", "conv", "conv_transpose"]

"""Layers to build G and D with: Flax linen modules with Flax's parameters and fields, fast on
every backend (`impl`: see `jgan.nn.convolution`), and the GAN layers of the literature:
`SpectralNorm`, `ConditionalBatchNorm` and the projection discriminator's `ProjectionHead`."""
from jgan.nn.conditional import ConditionalBatchNorm, ProjectionHead, check_labels
from jgan.nn.convolution import IMPLS, Conv, ConvTranspose, conv, conv_transpose
from jgan.nn.dropout import Dropout
from jgan.nn.norm import BatchNorm
from jgan.nn.spectral_norm import SpectralNorm, maybe_spectral_norm

__all__ = ["IMPLS", "BatchNorm", "ConditionalBatchNorm", "Conv", "ConvTranspose", "Dropout",
           "ProjectionHead", "SpectralNorm", "check_labels", "conv", "conv_transpose",
           "maybe_spectral_norm"]

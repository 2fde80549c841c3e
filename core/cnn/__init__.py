"""Convolutional networks: the convolution arithmetic, classic architectures, training
on images, and looking inside a trained network (the CNNs page's engine)."""

from core.cnn.conv import conv_output_size

__all__ = ["conv_output_size"]

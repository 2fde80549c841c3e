"""The CNNs page: the convolution explorer, classic architectures, training, inside a network, plain vs residual."""

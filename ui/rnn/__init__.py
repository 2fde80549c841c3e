"""The RNNs page's tabs."""

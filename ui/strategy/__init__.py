"""The ML strategy page: data splits, bias and variance, learning curves, metrics, error analysis, orthogonalization."""

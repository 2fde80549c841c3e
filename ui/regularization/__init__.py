"""The Regularization page's widgets, panels and tabs."""

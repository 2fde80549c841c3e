"""Neural style transfer (Gatys et al.): the course's costs, VGG-19 features, the optimisation job,
reconstructions from one cost alone, and style images the lab draws itself."""

from core.style.costs import content_cost, gram_matrix, layer_style_cost, style_cost, total_cost

__all__ = ["content_cost", "gram_matrix", "layer_style_cost", "style_cost", "total_cost"]

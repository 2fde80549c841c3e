"""Network basics topic: one neuron and its activations, backpropagation by hand in the course's
notation, the two loss functions, and vectorization timed.

- ``neuron``: activations and their derivatives, one neuron's forward pass, and gradient norms per
  layer of a deep network at initialisation (sigmoid vs ReLU).
- ``backprop``: the d-q-l sigmoid network with the course's g_j, e_h and gradients, beside autograd.
- ``losses``: MSE and cross-entropy as the course writes them and their gradients w.r.t. z.
- ``vectorization``: one layer's forward pass as Python loops, NumPy and torch, timed as a job.
"""

from core.basics.backprop import (
    PARAMS,
    BackpropNet,
    BackpropReport,
    CourseGradients,
    Forward,
    autograd_gradients,
    backprop_report,
    course_gradients,
    forward,
    gradient_rows,
    random_network,
    update,
)
from core.basics.losses import (
    binary_cross_entropy,
    cross_entropy,
    loss_vs_probability,
    mse,
    saturation_numbers,
    z_gradients,
)
from core.basics.neuron import (
    ACTIVATIONS,
    INITS,
    LEAKY_SLOPE,
    DepthConfig,
    NeuronConfig,
    NeuronOutput,
    activation,
    activation_derivative,
    deep_network,
    gradient_norms_per_layer,
    neuron_output,
    sigmoid_chain_bound,
    torch_activation,
)
from core.basics.vectorization import (
    IMPLEMENTATIONS,
    LAYER_ACTIVATIONS,
    VectorizationConfig,
    VectorizationResult,
    layer_loops,
    layer_numpy,
    layer_torch,
    make_layer,
    rows_to_csv,
    run_timing,
    speedup_rows,
    time_layer,
    timing_tables,
)

# The Playground (core.basics.playground) is added here by its own module's import.

__all__ = [
    "ACTIVATIONS",
    "IMPLEMENTATIONS",
    "INITS",
    "LAYER_ACTIVATIONS",
    "LEAKY_SLOPE",
    "PARAMS",
    "BackpropNet",
    "BackpropReport",
    "CourseGradients",
    "DepthConfig",
    "Forward",
    "NeuronConfig",
    "NeuronOutput",
    "VectorizationConfig",
    "VectorizationResult",
    "activation",
    "activation_derivative",
    "autograd_gradients",
    "backprop_report",
    "binary_cross_entropy",
    "course_gradients",
    "cross_entropy",
    "deep_network",
    "forward",
    "gradient_norms_per_layer",
    "gradient_rows",
    "layer_loops",
    "layer_numpy",
    "layer_torch",
    "loss_vs_probability",
    "make_layer",
    "mse",
    "neuron_output",
    "random_network",
    "rows_to_csv",
    "run_timing",
    "saturation_numbers",
    "sigmoid_chain_bound",
    "speedup_rows",
    "timing_tables",
    "time_layer",
    "torch_activation",
    "update",
    "z_gradients",
]

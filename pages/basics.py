"""Network basics: one neuron, the Playground, backpropagation by hand, loss functions, vectorization."""

from ui import shell
from ui.basics import backprop, losses, neuron, playground, vectorization

shell.topic_page(
    "Network basics",
    "A neural network is built from one small part repeated many times: a **neuron** that weighs its "
    "inputs, adds a bias and passes the sum through an activation. This page takes that part apart, "
    "trains a few in the Playground, works out backpropagation by hand and checks it against PyTorch, "
    "compares the two classic losses, and shows why vectorized code is what makes all of it fast.",
    {"Neuron": neuron.render, "Playground": playground.render, "Backpropagation by hand": backprop.render,
     "Loss functions": losses.render, "Vectorization": vectorization.render},
)

"""The Network basics page's sections: one neuron, the Playground, backpropagation by hand, the losses, vectorization."""

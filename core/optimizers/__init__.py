"""Optimizers topic: the course's update rules, the loss-surface lab and the optimizer race.

- ``rules``: ``GradientDescent``, ``Momentum``, ``Adagrad``, ``RMSprop``, ``Adam`` written exactly
  as the course writes them (``torch.optim.Optimizer`` subclasses).
- ``surfaces``: 2-D test functions and optimizer trajectories on them.
- ``race``: the same network trained with each chosen optimizer as tracked runs.
"""

from core.optimizers.rules import OPTIMIZERS, Adagrad, Adam, GradientDescent, Momentum, RMSprop

__all__ = ["OPTIMIZERS", "Adagrad", "Adam", "GradientDescent", "Momentum", "RMSprop"]

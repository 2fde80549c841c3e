"""Optimizers: the course's update rules, a loss-surface lab and a race on a real network."""

from ui import shell
from ui.optimizers import lab, race, rules

shell.topic_page(
    "Optimizers",
    "Training a network means walking downhill on its loss. Every optimizer below takes the same "
    "gradient and turns it into a step in its own way: plain steps, steps with inertia, or steps "
    "scaled per weight by how large that weight's gradients have been. **Try:** the *Ravine* with "
    "gradient descent and then Momentum; raise α until a path explodes; add gradient noise to see "
    "mini-batch training; then race the optimizers on real digits.",
    {"Update rules": rules.render, "Loss-surface lab": lab.render, "Race on a real network": race.render},
)

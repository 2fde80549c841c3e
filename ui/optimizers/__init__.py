"""The Optimizers page's sections: the update rules, the loss-surface lab and the race on a real network."""

"""Face recognition: the triplet loss, online triplet mining, a siamese embedding network,
and one-shot verification on identities never seen in training (the Faces page's engine).

Offline, digits stand in for identities; the Olivetti faces and Labeled Faces in the Wild
are used when scikit-learn can download them.
"""

from core.faces.triplets import batch_triplet_loss, mine_triplets, pairwise_sq_distances, triplet_kind, triplet_loss

__all__ = ["batch_triplet_loss", "mine_triplets", "pairwise_sq_distances", "triplet_kind", "triplet_loss"]

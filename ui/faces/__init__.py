"""The Face recognition page's tabs: the triplet loss, training a siamese network, one-shot evaluation and verification."""

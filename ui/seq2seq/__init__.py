"""The Sequence models page's tabs."""

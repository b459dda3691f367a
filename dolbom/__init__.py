"""The composition root: the `dolbom` CLI and what wires several packages together."""

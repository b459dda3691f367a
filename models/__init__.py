"""dolbom models."""

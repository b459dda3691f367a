"""dolbom cloud."""

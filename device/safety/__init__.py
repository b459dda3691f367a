"""The safety loop: works with no network at all."""

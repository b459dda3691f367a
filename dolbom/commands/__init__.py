"""CLI subcommands, one module per deployable part."""

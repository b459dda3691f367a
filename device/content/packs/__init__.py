"""The content packs shipped with the robot: one TOML file per category and language."""

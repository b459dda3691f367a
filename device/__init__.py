"""The on-device agent: hears, understands, keeps the senior safe, and reports, offline first."""

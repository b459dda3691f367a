"""dolbom firmware_sim."""

"""The dolbom cloud: ingest robot events, store them, alert caregivers, serve the caregiver API."""

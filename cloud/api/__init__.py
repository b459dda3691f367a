"""The caregiver HTTP API (FastAPI): alerts, acknowledgements, devices, live SSE."""

from cloud.api.app import create_app

__all__ = ["create_app"]

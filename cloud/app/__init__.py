"""The caregivers' app: server-rendered pages (Jinja2 + vendored htmx) on the API's accounts,
scoping, audit and alert lifecycle; `install(app)` adds it under /app."""

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cloud.app import pages, shell
from cloud.app.web import PREFIX


def install(app: FastAPI) -> None:
    """Add the app's pages, its PWA shell and its static files to the API."""
    app.include_router(shell.router)
    app.include_router(pages.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=shell.STATIC_DIR), name="app-static")


__all__ = ["install"]

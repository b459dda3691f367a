"""The caregivers' app: server-rendered pages (Jinja2 + vendored htmx) on the API's accounts,
scoping, audit and alert lifecycle; `install(app, settings)` adds it under /app."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from cloud.settings import CloudSettings


def install(app: FastAPI, settings: CloudSettings) -> None:
    """Add the app's pages, its PWA shell and its static files to the API."""
    # Imported here: the pages use the API's routers, and the API's factory imports this
    # package; importing `cloud.app.*` first must not find `cloud.api` half-initialised.
    from cloud.app import (
        daily_pages,
        family,
        family_messages,
        orgs,
        pages,
        research_pages,
        shell,
        trends,
    )
    from cloud.app.admin import router as admin_router
    from cloud.app.web import PREFIX

    app.state.app_data_dir = Path(settings.data_dir)
    app.include_router(shell.router)
    app.include_router(pages.router)
    app.include_router(admin_router)
    app.include_router(family.router)
    app.include_router(family_messages.router)
    app.include_router(trends.router)
    app.include_router(orgs.router)  # organisations: staff, regions
    app.include_router(daily_pages.router)  # the daily report of a past day
    app.include_router(research_pages.router)
    app.mount(f"{PREFIX}/static", StaticFiles(directory=shell.STATIC_DIR), name="app-static")


__all__ = ["install"]

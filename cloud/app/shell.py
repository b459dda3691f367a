"""The PWA shell: the manifest and the service worker (served from /app/ for its scope)."""

from pathlib import Path

from fastapi import APIRouter
from fastapi.responses import FileResponse, Response

from cloud.app.web import PREFIX, SECURITY_HEADERS

STATIC_DIR = Path(__file__).parent / "static"
router = APIRouter(prefix=PREFIX, include_in_schema=False)


def _file(name: str, media_type: str, cache_s: int) -> Response:
    response = FileResponse(STATIC_DIR / name, media_type=media_type)
    response.headers.update(SECURITY_HEADERS)
    response.headers["Cache-Control"] = f"public, max-age={cache_s}" if cache_s else "no-cache"
    return response


@router.get("/manifest.webmanifest")
def manifest() -> Response:
    """The web app manifest (install to home screen)."""
    return _file("manifest.webmanifest", "application/manifest+json", 3600)


@router.get("/sw.js")
def service_worker() -> Response:
    """The service worker; never cached long, so a new version is picked up."""
    return _file("sw.js", "text/javascript", 0)

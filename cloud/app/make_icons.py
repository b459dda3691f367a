"""Draw the app's PNG icons (a white heart on blue): `python -m cloud.app.make_icons`."""

import struct
import zlib
from pathlib import Path

import numpy as np

_BLUE = (0x0B, 0x3D, 0x91)
_STATIC = Path(__file__).parent / "static"


def icon(size: int) -> bytes:
    """A size x size RGB PNG of the icon (full bleed blue, so it is also maskable)."""
    y, x = np.mgrid[0:size, 0:size].astype(np.float64)
    u = (x - size / 2) / (size * 0.3)
    v = -(y - size * 0.52) / (size * 0.3)
    heart = (u**2 + v**2 - 1) ** 3 - u**2 * v**3 <= 0  # the classic implicit heart curve
    pixels = np.empty((size, size, 3), dtype=np.uint8)
    pixels[:] = _BLUE
    pixels[heart] = (255, 255, 255)
    raw = b"".join(b"\x00" + pixels[row].tobytes() for row in range(size))

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", size, size, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 9))
        + chunk(b"IEND", b"")
    )


if __name__ == "__main__":
    for size in (192, 512):
        (_STATIC / f"icon-{size}.png").write_bytes(icon(size))

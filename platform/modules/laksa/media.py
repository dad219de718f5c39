"""Photos: checked at upload (cheaply, from the header), re-encoded later in a worker.

At upload: the type is what the bytes are (Pillow's detection), never the file name or the
browser's content type, so a renamed PDF is refused; JPEG, PNG and WebP only; size and pixel count
bounded, so a decompression bomb (a small file that declares a huge image) is refused before a
single pixel is decoded.

In the worker: decoded under the same pixel bound, turned upright (EXIF orientation), re-encoded
without any metadata (GPS, camera serials) and scaled to at most ``MAX_EDGE`` pixels, plus a
thumbnail. Only the re-encoded image is ever served.
"""

from __future__ import annotations

import hashlib
import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps, UnidentifiedImageError

ACCEPTED_FORMATS = {"JPEG": "image/jpeg", "PNG": "image/png", "WEBP": "image/webp"}
MAX_EDGE = 2048
THUMB_EDGE = 320
JPEG_QUALITY = 85


class PhotoRefused(ValueError):
    """``code``: empty | too_large | not_image | type | too_many_pixels | unreadable."""

    def __init__(self, code: str, **params: object) -> None:
        super().__init__(code)
        self.code = code
        self.params = params


def human_size(n: int) -> str:
    """10485760 -> "10 MB", 50000 -> "49 KB" (what a citizen reads in an error)."""
    if n >= 1024 * 1024:
        mb = n / 1024 / 1024
        return f"{mb:.0f} MB" if mb >= 10 or mb.is_integer() else f"{mb:.1f} MB"
    return f"{max(1, n // 1024)} KB"


@dataclass(frozen=True, slots=True)
class CheckedPhoto:
    data: bytes
    format: str  # JPEG | PNG | WEBP
    width: int
    height: int
    sha256: str
    filename: str | None


def check_photo(data: bytes, filename: str | None, *, max_bytes: int, max_pixels: int) -> CheckedPhoto:
    """Refuse what is not a JPEG, PNG or WebP within the limits; reads the header only."""
    if not data:
        raise PhotoRefused("empty")
    if len(data) > max_bytes:
        raise PhotoRefused("too_large", limit=human_size(max_bytes))
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            detected = image.format
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused("too_many_pixels", megapixels=max_pixels // 1_000_000) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRefused("not_image") from None
    if detected not in ACCEPTED_FORMATS:
        raise PhotoRefused("type", detected=detected or "?")
    if width <= 0 or height <= 0:
        raise PhotoRefused("unreadable")
    if width * height > max_pixels:
        raise PhotoRefused("too_many_pixels", megapixels=max_pixels // 1_000_000)
    name = (filename or "").replace("\\", "/").rsplit("/", 1)[-1][:200] or None
    return CheckedPhoto(data, detected, width, height, hashlib.sha256(data).hexdigest(), name)


@dataclass(frozen=True, slots=True)
class Processed:
    image: bytes
    thumbnail: bytes
    content_type: str
    width: int
    height: int


def process_photo(data: bytes, max_pixels: int) -> Processed:
    """Decode, turn upright, drop every piece of metadata, scale down, re-encode; and a thumbnail.

    Images with transparency stay PNG, everything else becomes JPEG."""
    previous = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels
    try:
        with Image.open(io.BytesIO(data)) as source:
            if source.format not in ACCEPTED_FORMATS:
                raise PhotoRefused("type", detected=source.format or "?")
            source.load()
            upright = ImageOps.exif_transpose(source)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoRefused("too_many_pixels", megapixels=max_pixels // 1_000_000) from None
    except (UnidentifiedImageError, OSError, ValueError, SyntaxError):
        raise PhotoRefused("unreadable") from None
    finally:
        Image.MAX_IMAGE_PIXELS = previous
    keep_alpha = upright.mode in ("RGBA", "LA") or (upright.mode == "P" and "transparency" in upright.info)
    # A fresh image holds pixels only: no EXIF, XMP, ICC or text chunks survive the copy.
    pixels = upright.convert("RGBA" if keep_alpha else "RGB")
    clean = Image.new(pixels.mode, pixels.size)
    clean.paste(pixels)
    clean.thumbnail((MAX_EDGE, MAX_EDGE))
    thumb = clean.copy()
    thumb.thumbnail((THUMB_EDGE, THUMB_EDGE))

    def encode(img: Image.Image) -> bytes:
        out = io.BytesIO()
        if keep_alpha:
            img.save(out, "PNG", optimize=True)
        else:
            img.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True, progressive=True)
        return out.getvalue()

    return Processed(
        image=encode(clean),
        thumbnail=encode(thumb),
        content_type="image/png" if keep_alpha else "image/jpeg",
        width=clean.width,
        height=clean.height,
    )

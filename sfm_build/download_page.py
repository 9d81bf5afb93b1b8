"""The vendor's download page, `dist/index.html`, in German and English.

As the product text's "Download" section describes it: each build with the PBX versions it fits
and a clear warning to check compatibility, the installation hints (upload in the module
manager, create an instance, 14-day trial, verify by e-mail after purchase), the changelog,
and each file's size and SHA-256. Rendered from `templates/index.html.j2` with autoescaping.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sfm_build.metadata import ModuleMetadata, Variant
from sfm_build.rendering import TEMPLATES_DIR, render
from sfm_build.variants import fits_below, pbx_version_key

PAGE_NAME = "index.html"
PAGE_TEMPLATE = "index.html.j2"
TRIAL_DAYS = 14  # the trial the runtime grants (DESIGN.md "Licensing")


@dataclass(frozen=True)
class Download:
    """One file on the page."""

    variant: Variant
    file_name: str
    size: int
    sha256: str
    fits_below: str | None  # the PBX version from which a newer build is the one to use


def render_download_page(
    meta: ModuleMetadata,
    builds: Sequence[tuple[Variant, str, int, str]],
    templates_dir: Path = TEMPLATES_DIR,
) -> bytes:
    """The page for `builds` (variant, file name, size, sha256), newest PBX level first."""
    downloads = [
        Download(variant, name, size, digest, fits_below(variant, meta.variants))
        for variant, name, size, digest in builds
    ]
    downloads.sort(key=lambda d: pbx_version_key(d.variant.min_pbx_version), reverse=True)
    text = render(
        templates_dir,
        PAGE_TEMPLATE,
        {"module": meta, "downloads": downloads, "trial_days": TRIAL_DAYS},
    )
    return text.encode("utf-8")

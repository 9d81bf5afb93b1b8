"""What differs between the builds of one module: the Java level, the variant-specific Java
sources (e.g. the log adapter) and the file name of the .sfm.

One source tree: `jvm_src/common/` is in every build, `jvm_src/<variant>/` only in its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from sfm_build.javac import CompileJob
from sfm_build.metadata import ModuleMetadata, Variant

JVM_SOURCES = "jvm_src"
COMMON_SOURCES = "common"


def compile_job(source: Path, variant: Variant) -> CompileJob:
    """The javac run of `variant` for the module sources under `source` (module_src)."""
    root = source / JVM_SOURCES
    return CompileJob(
        variant=variant.name,
        release=variant.java_release,
        source_dirs=(root / COMMON_SOURCES, root / variant.name),
        log_api=variant.log_api,
    )


def artifact_name(meta: ModuleMetadata, variant: Variant) -> str:
    """The .sfm file name of a build, e.g. "Breakthrough-2.6.1-current.sfm"."""
    return f"{meta.name.replace(' ', '_')}-{meta.display_version}-{variant.name}.sfm"


def fits_below(variant: Variant, variants: Sequence[Variant]) -> str | None:
    """The lowest minimum PBX version of a newer variant: from there on, that one is the build
    to use (None for the newest variant)."""
    own = pbx_version_key(variant.min_pbx_version)
    newer = [v for v in variants if pbx_version_key(v.min_pbx_version) > own]
    if not newer:
        return None
    return min(newer, key=lambda v: pbx_version_key(v.min_pbx_version)).min_pbx_version


def pbx_version_key(version: str) -> tuple[int, ...]:
    """A PBX version such as 8.1.0.4 as a tuple that sorts the way versions do."""
    return tuple(int(part) for part in version.split("."))

"""The build: a module's source folder (`--source`, default module_src/) ->
dist/<name>-<version>-<variant>.sfm for each variant, and the download page dist/index.html.

Everything comes from the source folder: module.toml (identity, variants, entry points), the
one Python package with its form.toml, and the Java sources under jvm_src/. The build imports no
module's code.

Steps, each reported as it runs: read metadata, compile (javac, once per variant, concurrently),
render (manifest and descriptor), validate (our XSD and the integrity rules), package
(deterministic JAR), then write. Everything is built in memory first; only then are the files
written, each to a temporary name in the output folder and renamed into place at the end, so a
failing build leaves the output folder as it was.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from sfm_build.archive import build_timestamp, jar_bytes
from sfm_build.descriptor import DESCRIPTOR_NAME, render_descriptor, validate_descriptor
from sfm_build.download_page import PAGE_NAME, render_download_page
from sfm_build.errors import BuildError
from sfm_build.form import FORM_FILE, Tab, find_package, load_form
from sfm_build.javac import compile_all
from sfm_build.manifest import MANIFEST_NAME, render_manifest
from sfm_build.metadata import ModuleMetadata, Variant, load_metadata
from sfm_build.payload import module_payload
from sfm_build.rendering import TEMPLATES_DIR
from sfm_build.signing import with_signature
from sfm_build.variants import artifact_name, compile_job

REPO_ROOT = Path(__file__).resolve().parent.parent
API_SOURCES = REPO_ROOT / "runtime" / "jvm_src"
METADATA_FILE = "module.toml"


@dataclass(frozen=True)
class BuildOptions:
    """What to build and where. `variants` empty means every variant of module.toml."""

    source: Path = REPO_ROOT / "module_src"
    out: Path = REPO_ROOT / "dist"
    variants: tuple[str, ...] = ()
    templates_dir: Path = TEMPLATES_DIR
    api_source: Path = API_SOURCES
    repo: Path = REPO_ROOT  # whose HEAD commit time stamps the archives
    form: Sequence[Tab] | None = None  # default: <package>/form.toml under `source`
    report: Callable[[str], None] = field(default=print)


@dataclass(frozen=True)
class Artifact:
    """One written file."""

    variant: Variant | None  # None for the download page
    path: Path
    size: int
    sha256: str

    def to_json(self) -> dict[str, object]:
        return {
            "file": str(self.path),
            "variant": self.variant.name if self.variant else None,
            "min_pbx_version": self.variant.min_pbx_version if self.variant else None,
            "size": self.size,
            "sha256": self.sha256,
        }


@dataclass(frozen=True)
class BuildResult:
    metadata: ModuleMetadata
    artifacts: tuple[Artifact, ...]  # the .sfm files, then the page

    def to_json(self) -> dict[str, object]:
        return {
            "id": self.metadata.id,
            "display_version": self.metadata.display_version,
            "version": self.metadata.build_number,
            "artifacts": [artifact.to_json() for artifact in self.artifacts],
        }


def build(options: BuildOptions) -> BuildResult:
    """Build the chosen variants and the download page into `options.out`.

    Raises BuildError (naming the file and field) for bad metadata, sources or templates; the
    output folder is then unchanged.
    """
    say = options.report
    meta = load_metadata(options.source / METADATA_FILE)
    say(f"metadata  {meta.source}: {meta.name} {meta.display_version} (build {meta.build_number})")
    variants = _chosen(meta, options.variants)
    form_file = find_package(options.source) / FORM_FILE
    form = tuple(options.form) if options.form is not None else load_form(form_file)
    epoch = build_timestamp(options.repo)

    say("compile   " + ", ".join(f"{v.name}: javac --release {v.java_release}" for v in variants))
    classes = compile_all([compile_job(options.source, v) for v in variants], options.api_source)
    payload = module_payload(options.source)

    outputs: list[tuple[Variant | None, str, bytes]] = []
    for variant in variants:
        files = {**classes[variant.name], **payload}
        say(f"render    {variant.name}: {MANIFEST_NAME}, {DESCRIPTOR_NAME} ({len(files)} files)")
        manifest = render_manifest(meta, variant, options.templates_dir)
        descriptor = render_descriptor(
            meta, variant, list(files), form, options.templates_dir, str(form_file)
        )
        say(f"validate  {variant.name}: {DESCRIPTOR_NAME} against module-descriptor.xsd")
        validate_descriptor(descriptor, f"{DESCRIPTOR_NAME} of variant {variant.name}")
        name = artifact_name(meta, variant)
        say(f"package   {variant.name}: {name}")
        entries = {MANIFEST_NAME: manifest, DESCRIPTOR_NAME: descriptor, **files}
        data = jar_bytes(with_signature(entries, meta.id), epoch)
        outputs.append((variant, name, data))

    builds = [(v, name, len(data), _sha256(data)) for v, name, data in outputs if v is not None]
    say(f"render    {PAGE_NAME}: download page")
    outputs.append((None, PAGE_NAME, render_download_page(meta, builds, options.templates_dir)))

    written = _write_all(options.out, [(name, data) for _, name, data in outputs])
    artifacts = tuple(
        Artifact(variant, path, len(data), _sha256(data))
        for (variant, _, data), path in zip(outputs, written, strict=True)
    )
    for artifact in artifacts:
        say(f"wrote     {artifact.path}  {artifact.size} bytes  sha256 {artifact.sha256}")
    return BuildResult(metadata=meta, artifacts=artifacts)


def _chosen(meta: ModuleMetadata, names: Sequence[str]) -> list[Variant]:
    if not names or "all" in names:
        return list(meta.variants)
    return [meta.variant(name) for name in dict.fromkeys(names)]


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write_all(out: Path, files: Sequence[tuple[str, bytes]]) -> list[Path]:
    """Write every file under `out` all-or-nothing: temporary names first, renames at the end."""
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise BuildError(f"{out}: cannot create the output folder ({exc.strerror}).") from None
    temporaries: list[tuple[Path, Path]] = []
    try:
        for name, data in files:
            handle, temp_name = tempfile.mkstemp(prefix=f".{name}.", suffix=".part", dir=out)
            temp = Path(temp_name)
            temporaries.append((temp, out / name))
            with os.fdopen(handle, "wb") as stream:
                stream.write(data)
                stream.flush()
                os.fsync(stream.fileno())
            os.chmod(temp, 0o644)
        for temp, final in temporaries:
            os.replace(temp, final)
    except OSError as exc:
        for temp, _ in temporaries:
            temp.unlink(missing_ok=True)
        raise BuildError(f"{out}: cannot write the build output ({exc}).") from None
    except BaseException:
        for temp, _ in temporaries:
            temp.unlink(missing_ok=True)
        raise
    return [final for _, final in temporaries]

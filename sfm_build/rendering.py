"""The jinja2 environment of the build: strict about undefined names, autoescaping XML and HTML.

`render(templates_dir, name, context)` turns any template fault (syntax, an undefined name, an
exception in a filter) into a `BuildError` naming the template file and line.
"""

from __future__ import annotations

import traceback
from functools import cache
from pathlib import Path
from typing import Any

import jinja2

from sfm_build.errors import BuildError

TEMPLATES_DIR = Path(__file__).with_name("templates")


def _autoescape(name: str | None) -> bool:
    # Markup (descriptor, download page) is escaped; the plain-text manifest is not (its values
    # are checked for line breaks instead, see sfm_build.manifest).
    return name is not None and name.endswith((".xml.j2", ".html.j2"))


@cache
def environment(templates_dir: Path) -> jinja2.Environment:
    """The environment for templates in `templates_dir` (one per folder)."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(templates_dir)),
        autoescape=_autoescape,
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=False,
        lstrip_blocks=False,
    )


def render(templates_dir: Path, name: str, context: dict[str, Any]) -> str:
    """Render template `name` with `context`; BuildError naming the template and line on error."""
    path = templates_dir / name
    try:
        template = environment(templates_dir).get_template(name)
        return template.render(**context)
    except jinja2.TemplateNotFound:
        raise BuildError(f"{path}: template not found.") from None
    except jinja2.TemplateSyntaxError as exc:
        where = exc.filename or str(path)
        raise BuildError(f"{where}, line {exc.lineno}: template error: {exc.message}.") from None
    except BuildError:
        raise
    except Exception as exc:  # an undefined name, a failing filter: the template is at fault
        line = _template_line(exc, name)
        where = f"{path}, line {line}" if line else str(path)
        raise BuildError(f"{where}: template error: {exc}.") from None


def _template_line(exc: BaseException, name: str) -> int | None:
    """The line of template `name` that raised `exc` (jinja2 puts template frames in the
    traceback under the template's file name)."""
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename.endswith(name):
            line = frame.lineno
    return line

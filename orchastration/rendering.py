"""The Jinja environment: built-in templates, user override directories, strict undefined names.

Lookup order for a template file: ``[templates].dir`` -> ``<working_dir>/.orchastration/templates/``
-> the built-in ones. Every failure (syntax error, unknown variable, missing file) becomes a
``TemplateError`` naming the template file and line, so a typo never renders as blank text.
jinja2 is imported inside the functions: the CLI must start without it.
"""

from __future__ import annotations

import traceback
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from orchastration.errors import TemplateError

if TYPE_CHECKING:
    import jinja2

TEMPLATE_NAMES = (
    "task_doc.md.j2",
    "readme_summary.md.j2",
    "issue_title.txt.j2",
    "issue_body.md.j2",
    "branch_name.txt.j2",
)
USER_SUBDIR = Path(".orchastration") / "templates"


def builtin_dir() -> Path:
    """The built-in templates: package data in a wheel, else the source tree's top-level ``templates/``."""
    packaged = Path(__file__).parent / "templates"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent / "templates"


def search_path(user_dir: Path | None, working_dir: Path | None) -> list[Path]:
    """Directories searched for a template, first match wins."""
    dirs: list[Path] = []
    if user_dir is not None:
        dirs.append(user_dir)
    if working_dir is not None:
        dirs.append(working_dir / USER_SUBDIR)
    dirs.append(builtin_dir())
    return dirs


class Renderer:
    """Renders named templates (and inline template strings) with ``StrictUndefined``."""

    def __init__(self, dirs: Sequence[Path]) -> None:
        self.dirs = [Path(d) for d in dirs]
        self._env: jinja2.Environment | None = None

    @classmethod
    def for_task(cls, user_dir: Path | None, working_dir: Path | None) -> Renderer:
        """A renderer with the lookup order of docs/templates.md for one task."""
        return cls(search_path(user_dir, working_dir))

    @property
    def env(self) -> jinja2.Environment:
        if self._env is None:
            import jinja2

            self._env = jinja2.Environment(
                loader=jinja2.FileSystemLoader([str(d) for d in self.dirs]),
                undefined=jinja2.StrictUndefined,
                autoescape=False,  # Markdown and plain text, not HTML
                keep_trailing_newline=False,
                trim_blocks=True,
                lstrip_blocks=True,
            )
        return self._env

    def find(self, name: str) -> Path | None:
        """The file that would be used for template ``name`` (None if none exists)."""
        for directory in self.dirs:
            candidate = directory / name
            if candidate.is_file():
                return candidate
        return None

    def render(self, name: str, context: Mapping[str, Any]) -> str:
        """Render the template file ``name``; failures raise ``TemplateError`` naming file and line."""
        import jinja2

        try:
            template = self.env.get_template(name)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(_syntax_message(exc, name)) from None
        except jinja2.TemplateNotFound:
            looked = ", ".join(str(d) for d in self.dirs)
            raise TemplateError(f"template '{name}' not found (looked in {looked})") from None
        except (OSError, UnicodeDecodeError) as exc:
            where = self.find(name) or name
            raise TemplateError(f"{where}: cannot read template: {exc}") from None
        return _render(template, context, template.filename or name)

    def render_string(self, source: str, context: Mapping[str, Any], label: str = "<template>") -> str:
        """Render an inline template (a config value); ``label`` names it in errors (e.g. a config key)."""
        import jinja2

        try:
            template = self.env.from_string(source)
        except jinja2.TemplateSyntaxError as exc:
            raise TemplateError(f"{label}: template syntax error: {exc.message} (line {exc.lineno})") from None
        return _render(template, context, label, inline=True)


def _syntax_message(exc: Any, name: str) -> str:
    filename = exc.filename or name
    return f"{filename}:{exc.lineno}: template syntax error: {exc.message}"


def _render(template: jinja2.Template, context: Mapping[str, Any], filename: str, inline: bool = False) -> str:
    import jinja2

    try:
        return template.render(**context)
    except jinja2.TemplateError as exc:
        line = _template_line(exc, filename, inline)
        where = f"{filename}:{line}" if line else filename
        kind = "undefined name" if isinstance(exc, jinja2.UndefinedError) else "template error"
        raise TemplateError(f"{where}: {kind}: {exc}") from None
    except Exception as exc:  # a filter or method failing inside the template (e.g. int("x"))
        line = _template_line(exc, filename, inline)
        where = f"{filename}:{line}" if line else filename
        raise TemplateError(f"{where}: rendering failed: {type(exc).__name__}: {exc}") from None


def _template_line(exc: BaseException, filename: str, inline: bool) -> int | None:
    """The template line of a render error: jinja rewrites tracebacks so frames point into the template."""
    wanted = "<template>" if inline else filename
    line = None
    for frame in traceback.extract_tb(exc.__traceback__):
        if frame.filename == wanted:
            line = frame.lineno
    return line

"""``[vars]``, ``${NAME}`` expansion and ``dotenv`` files (docs/configuration.md, "Variables").

``${NAME}`` expands from the job's own names (``item``/``stem`` of a ``foreach`` job), then ``[vars]``,
then the environment as the job sees it (inherited, then dotenv files); ``${NAME:-default}`` gives a
default; ``$$`` is a literal ``$``; any other ``$`` is kept as written (a shell command may use it).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from orchastration.errors import ConfigError

# $$, or ${NAME} / ${NAME:-default} (the default runs to the first closing brace).
_REF = re.compile(r"\$(?:(\$)|\{([^}:]*)(?::-([^}]*))?\})")
VAR_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
OPTIONAL = "?"  # a dotenv path written "?.env" may be absent


class Expander:
    """Expands ``${...}`` in strings; remembers whether the result depended on the environment."""

    def __init__(self, fail: Callable[[str, str], ConfigError], variables: Mapping[str, str]) -> None:
        self.fail = fail
        self.variables = variables
        self.volatile = False  # a reference fell through to the environment (or its default)

    def expand(self, text: str, key: str, environ: Mapping[str, str], local: Mapping[str, str] | None = None) -> str:
        """``text`` with its references replaced; an undefined name without default is an error at ``key``."""
        if "$" not in text:
            return text

        def one(match: re.Match[str]) -> str:
            if match.group(1):
                return "$"
            name, default = match.group(2), match.group(3)
            if not VAR_NAME.fullmatch(name):
                raise self.fail(key, f"invalid variable reference '{match.group(0)}' (use ${{NAME}} or $$ for a '$')")
            if local and name in local:
                return local[name]
            if name in self.variables:
                return self.variables[name]
            self.volatile = True
            if name in environ:
                return environ[name]
            if default is not None:
                return default
            raise self.fail(
                key, f"undefined variable '{name}' (set it in [vars] or the environment, or write ${{{name}:-default}})"
            )

        return _REF.sub(one, text)

    def expand_value(self, value: Any, key: str, environ: Mapping[str, str], local: Mapping[str, str] | None) -> Any:
        """A TOML value with every string in it expanded (lists and tables too); other types as they are
        (the schema reports them)."""
        if isinstance(value, str):
            return self.expand(value, key, environ, local)
        if isinstance(value, list):
            return [self.expand_value(v, f"{key}[{i}]", environ, local) for i, v in enumerate(value)]
        if isinstance(value, dict):
            return {k: self.expand_value(v, f"{key}.{k}", environ, local) for k, v in value.items()}
        return value


def read_vars(fail: Callable[[str, str], ConfigError], raw: Any, environ: Mapping[str, str]) -> Expander:
    """The ``[vars]`` table, checked; each value may use the variables above it and the environment."""
    if not isinstance(raw, dict):
        raise fail("vars", 'expected a table of NAME = "value"')
    expander = Expander(fail, {})
    values: dict[str, str] = {}
    for name, value in raw.items():
        key = f"vars.{name}"
        if not VAR_NAME.fullmatch(name):
            raise fail(key, "invalid variable name: use letters, digits and '_', not starting with a digit")
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise fail(key, "expected a string")
        if isinstance(value, str) and "\0" in value:
            raise fail(key, "must not contain a NUL character")
        expander.variables = values
        values[name] = expander.expand(str(value), key, environ)
    expander.variables = values
    return expander


def dotenv_paths(fail: Callable[[str, str], ConfigError], raw: Any, key: str) -> list[tuple[str, bool]]:
    """The ``dotenv`` list: (path as written without ``?``, required)."""
    if not isinstance(raw, list) or not all(isinstance(p, str) and p.strip(OPTIONAL) for p in raw):
        raise fail(key, 'expected a list of file paths ("?path": optional)')
    return [(p[1:], False) if p.startswith(OPTIONAL) else (p, True) for p in raw]


def read_dotenv(
    fail: Callable[[str, str], ConfigError],
    files: list[tuple[str, bool]],
    key: str,
    base: Path,
    environ: Mapping[str, str],
) -> dict[str, str]:
    """The variables of the listed dotenv files (python-dotenv syntax, values taken literally), later
    files overriding earlier ones. A missing required file or a line that does not parse is an error
    naming the file."""
    from orchastration.paths import expand_home

    out: dict[str, str] = {}
    for i, (written, required) in enumerate(files):
        path = base / expand_home(written, environ)
        try:
            text = path.read_bytes().decode("utf-8")
        except FileNotFoundError:
            if required:
                raise fail(f"{key}[{i}]", f'{path}: no such file (write "?{written}" if it is optional)') from None
            continue
        except UnicodeDecodeError:
            raise fail(f"{key}[{i}]", f"{path}: not valid UTF-8") from None
        except OSError as exc:
            raise fail(f"{key}[{i}]", f"{path}: cannot read: {exc.strerror or exc}") from None
        out.update(_parse_dotenv(fail, text, path, f"{key}[{i}]"))
    return out


def _parse_dotenv(fail: Callable[[str, str], ConfigError], text: str, path: Path, key: str) -> dict[str, str]:
    import io

    from dotenv.parser import parse_stream  # here: only configs listing a dotenv file need it

    out: dict[str, str] = {}
    for binding in parse_stream(io.StringIO(text)):
        if binding.error:
            raise fail(key, f"{path}:{binding.original.line}: cannot parse this line (expected KEY=VALUE)")
        if binding.key is not None and binding.value is not None:
            if "\0" in binding.value:
                raise fail(key, f"{path}:{binding.original.line}: a value must not contain a NUL character")
            out[binding.key] = binding.value
    return out

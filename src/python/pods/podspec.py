"""Load and validate build_files/<pod>/pod.yaml (schema 1, docs/lockfile.md).

Every problem is one PodsError naming the file and the field, e.g.
`build_files/devops/pod.yaml: field npm.packages: expected a mapping of name to range, found a list`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pods_contract import env_problem

from pods.errors import PodsError
from pods.graph import BUILD_FILES


@dataclass(frozen=True)
class DebianSpec:
    packages: tuple[str, ...]
    suite: str | None = None  # rootfs only: the root is made from this suite
    variant: str | None = None  # rootfs only: mmdebstrap's variant


@dataclass(frozen=True)
class PypiSpec:
    python: str
    packages: tuple[str, ...]  # PEP 508 requirement strings


@dataclass(frozen=True)
class NpmSpec:
    packages: tuple[tuple[str, str], ...]  # (name, semver range), sorted by name


@dataclass(frozen=True)
class VendorSpec:
    name: str
    version: str  # exact, a range ("^3.19", ">=3.18,<4"), or "latest"
    source: tuple[tuple[str, str], ...]  # e.g. (("github_release", "helm/helm"),)
    url: str  # template with {version}
    checksums: str  # template with {version}: a sha256sum-style file
    install: Mapping[str, Any]  # handed to the in-image installer unchanged
    # A digest quoted from a published list instead of `checksums`: (algorithm, hex).
    quoted: tuple[str, str] | None = None
    checksum_source: str = ""  # where the quoted digest is published (URL)
    checksum_publisher: str = ""  # "upstream", or "third-party" when the upstream publishes none


@dataclass(frozen=True)
class PodSpec:
    name: str
    path: Path  # the pod.yaml file
    description: str
    debian: DebianSpec | None = None
    pypi: PypiSpec | None = None
    npm: NpmSpec | None = None
    vendor: tuple[VendorSpec, ...] = ()
    env: tuple[tuple[str, str], ...] = ()


def field_error(pod: str, field: str, message: str) -> PodsError:
    """An error about one field of build_files/<pod>/pod.yaml, as every pod.yaml error reads."""
    return PodsError(f"{BUILD_FILES}/{pod}/pod.yaml", f"field {field}: {message}")


def _duplicate_key(node: yaml.Node, path: str = "") -> tuple[str, str, int, int] | None:
    """(field path, key, line, first line) of a key given twice; PyYAML keeps the last one silently.

    Found on the node tree, before construction, so the error can name the dotted field.
    """
    if isinstance(node, yaml.SequenceNode):
        for i, item in enumerate(node.value):
            found = _duplicate_key(item, f"{path}[{i}]")
            if found:
                return found
    elif isinstance(node, yaml.MappingNode):
        seen: dict[str, int] = {}
        for key_node, value_node in node.value:
            key = str(key_node.value)
            field = f"{path}.{key}" if path else key
            if key in seen:
                return field, key, key_node.start_mark.line + 1, seen[key]
            seen[key] = key_node.start_mark.line + 1
            found = _duplicate_key(value_node, field)
            if found:
                return found
    return None


# Requirement name as PEP 508 spells it; normalized as PEP 503 says to find duplicates.
_REQ_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")
_DEB_NAME = re.compile(r"^[a-z0-9][a-z0-9+.-]+$")
_PYTHON_VERSION = re.compile(r"^3\.\d+$")
_VENDOR_SOURCES = ("github_release", "oci_tags")
_QUOTED_DIGESTS = {"sha256": 64, "sha512": 128}
_PUBLISHERS = ("upstream", "third-party")
# In the order an unknown-key error lists them.
_VENDOR_KEYS = ("version", "source", "url", "checksums", "install", *_QUOTED_DIGESTS)
_VENDOR_QUOTE_KEYS = ("checksum_source", "checksum_publisher")


def normalize_pypi_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pypi_requirement_name(requirement: str) -> str | None:
    m = _REQ_NAME.match(requirement)
    return normalize_pypi_name(m.group(1)) if m else None


class _Fields:
    """Typed access to one mapping of pod.yaml, each failure naming file and field."""

    def __init__(self, file: str, prefix: str, data: Mapping[str, Any]) -> None:
        self.file, self.prefix, self.data = file, prefix, data

    def error(self, field: str, message: str) -> PodsError:
        return PodsError(self.file, f"field {self.prefix}{field}: {message}")

    def only(self, *allowed: str) -> None:
        for key in self.data:
            if key not in allowed:
                raise self.error(
                    str(key),
                    f"unknown key: expected one of {', '.join(allowed)}; "
                    "rename or remove it (schema: docs/lockfile.md)",
                )

    def get(self, field: str, kind: type | tuple[type, ...], required: bool = False) -> Any:
        if field not in self.data:
            if required:
                raise self.error(field, "is required")
            return None
        value = self.data[field]
        if not isinstance(value, kind) or isinstance(value, bool) and bool not in _as_tuple(kind):
            raise self.error(
                field,
                f"expected {_kind_name(kind)}, found {_found(value)}; "
                f"write it as {_kind_name(kind)} (schema: docs/lockfile.md)",
            )
        return value

    def string(self, field: str, required: bool = False) -> str | None:
        value = self.get(field, str, required)
        if value is not None and not value.strip():
            raise self.error(field, "expected a non-empty string, found an empty one")
        return value

    def sub(self, field: str, required: bool = False) -> _Fields | None:
        value = self.get(field, dict, required)
        return None if value is None else _Fields(self.file, f"{self.prefix}{field}.", value)

    def string_list(self, field: str, what: str) -> tuple[str, ...]:
        value = self.get(field, list, required=True)
        for i, item in enumerate(value):
            if not isinstance(item, str) or not item.strip():
                raise self.error(f"{field}[{i}]", f"expected {what} (a string), found {_found(item)}")
        return tuple(value)

    def string_map(self, field: str, what: str, required: bool = True) -> tuple[tuple[str, str], ...]:
        value = self.get(field, dict, required)
        if value is None:
            return ()
        for key, item in value.items():
            if not isinstance(key, str) or not isinstance(item, str):
                raise self.error(f"{field}.{key}", f"expected {what}, found {_found(item)}")
        return tuple(sorted(value.items()))


def _as_tuple(kind: type | tuple[type, ...]) -> tuple[type, ...]:
    return kind if isinstance(kind, tuple) else (kind,)


def _kind_name(kind: type | tuple[type, ...]) -> str:
    names = {str: "a string", list: "a list", dict: "a mapping", int: "an integer", bool: "true/false"}
    return " or ".join(names.get(k, k.__name__) for k in _as_tuple(kind))


def _found(value: Any) -> str:
    if value is None:
        return "nothing (null)"
    return (
        f"{_kind_name(type(value))} ({value!r})"
        if not isinstance(value, dict | list)
        else _kind_name(type(value))
    )


def _check_no_duplicate(f: _Fields, field: str, names: list[str], what: str) -> None:
    """A component named twice (after normalizing) is an error naming both places."""
    first: dict[str, int] = {}
    for i, name in enumerate(names):
        if name in first:
            raise f.error(
                f"{field}[{i}]",
                f"duplicate component {name!r}: expected each {what} once, "
                f"found it at {f.prefix}{field}[{first[name]}] too; remove one",
            )
        first[name] = i


def load_pod_spec(path: Path, pod: str | None = None, display: str | None = None) -> PodSpec:
    """Read and validate one pod.yaml. `display` is how errors name the file (repo-relative)."""
    file = display or str(path)
    pod = pod or path.parent.name
    try:
        text = path.read_text()
    except OSError as e:
        raise PodsError(file, f"cannot be read ({e.strerror})") from None
    return parse_pod_spec(text, pod=pod, path=path, display=file)


def parse_pod_spec(text: str, pod: str, path: Path, display: str) -> PodSpec:
    loader = yaml.SafeLoader(text)
    try:
        node = loader.get_single_node()
        duplicate = None if node is None else _duplicate_key(node)
        if duplicate:
            field, key, line, first = duplicate
            raise PodsError(
                display,
                f"field {field}: duplicate key {key!r} at line {line}: expected each key once, "
                f"found it at line {first} too; merge the two or remove one",
            )
        data = None if node is None else loader.construct_document(node)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f" at line {mark.line + 1}" if mark else ""
        problem = getattr(e, "problem", None) or str(e)
        raise PodsError(display, f"invalid YAML{where}: {problem}; fix the syntax") from None
    finally:
        loader.dispose()
    if not isinstance(data, dict):
        raise PodsError(display, f"expected a mapping at the top level, found {_found(data)}")
    top = _Fields(display, "", data)
    top.only("description", "debian", "pypi", "npm", "vendor", "env")
    return PodSpec(
        name=pod,
        path=path,
        description=top.string("description", required=True),
        debian=_debian(top),
        pypi=_pypi(top),
        npm=_npm(top),
        vendor=_vendor(top),
        env=_env(top),
    )


def _debian(top: _Fields) -> DebianSpec | None:
    f = top.sub("debian")
    if f is None:
        return None
    f.only("suite", "variant", "packages")
    packages = f.string_list("packages", "a Debian package name")
    for i, name in enumerate(packages):
        if not _DEB_NAME.match(name):
            hint = "; name the package only (the lock pins its version)" if "=" in name else ""
            raise f.error(f"packages[{i}]", f"expected a Debian package name, found {name!r}{hint}")
    _check_no_duplicate(f, "packages", list(packages), "Debian package")
    return DebianSpec(packages=packages, suite=f.string("suite"), variant=f.string("variant"))


def _pypi(top: _Fields) -> PypiSpec | None:
    f = top.sub("pypi")
    if f is None:
        return None
    f.only("python", "packages")
    python = f.string("python", required=True)
    if not _PYTHON_VERSION.match(python):
        raise f.error("python", f'expected a Python version like "3.13", found {python!r}')
    packages = f.string_list("packages", "a PEP 508 requirement")
    names = []
    for i, req in enumerate(packages):
        name = pypi_requirement_name(req)
        if name is None:
            raise f.error(f"packages[{i}]", f"expected a PEP 508 requirement, found {req!r}")
        names.append(name)
    _check_no_duplicate(f, "packages", names, "PyPI project")
    return PypiSpec(python=python, packages=packages)


def _npm(top: _Fields) -> NpmSpec | None:
    f = top.sub("npm")
    if f is None:
        return None
    f.only("packages")
    return NpmSpec(packages=f.string_map("packages", "a semver range (a string)"))


def _env(top: _Fields) -> tuple[tuple[str, str], ...]:
    """Shell identifiers with literal values (only $NAME and ${NAME} expand): pods_contract's rule."""
    pairs = top.string_map("env", "a string value", required=False)
    for name, value in pairs:
        problem = env_problem(name, value)
        if problem is None:
            continue
        # The field names the variable; the contract's line names it again first.
        if problem.startswith(f"name {name!r}: "):
            raise top.error(f"env.{name}", f"{problem.removeprefix(f'name {name!r}: ')}; rename it")
        raise top.error(f"env.{name}", problem.removeprefix(f"{name}: "))
    return pairs


def _vendor(top: _Fields) -> tuple[VendorSpec, ...]:
    f = top.sub("vendor")
    if f is None:
        return ()
    out = []
    for name in sorted(f.data):
        item = f.sub(name, required=True)
        item.only(*_VENDOR_KEYS, *_VENDOR_QUOTE_KEYS)
        version = item.get("version", (str, int, float), required=True)
        pairs = _vendor_source(item)
        # YAML reads `version: 3.19` as a float; the string is what the user meant.
        version = str(version).strip()
        if not pairs and not is_exact_version(version):
            raise item.error("source", f"is required when version is not exact (version {version!r})")
        url = item.string("url", required=True)
        quoted = _quoted_digest(item, version, pairs)
        checksums = item.string("checksums", required=not _is_oci(pairs) and quoted is None)
        if quoted is not None and checksums is not None:
            raise item.error("checksums", f"expected either checksums or {quoted[0]}, found both")
        install = item.get("install", dict, required=True)
        kind = install.get("kind")
        if not isinstance(kind, str):
            raise item.error("install.kind", f"expected a string, found {_found(kind)}")
        out.append(
            VendorSpec(
                name=name,
                version=version,
                source=pairs,
                url=url,
                checksums=checksums or "",
                install=install,
                quoted=quoted,
                checksum_source=item.string("checksum_source") or "",
                checksum_publisher=item.string("checksum_publisher") or "",
            )
        )
    return tuple(out)


def _vendor_source(item: _Fields) -> tuple[tuple[str, str], ...]:
    source = item.sub("source")
    if source is None:
        return ()
    source.only(*_VENDOR_SOURCES)
    if len(source.data) != 1:
        raise item.error("source", f"expected exactly one of {', '.join(_VENDOR_SOURCES)}")
    return tuple((kind, source.string(kind, required=True)) for kind in source.data)


def _quoted_digest(
    item: _Fields, version: str, source: tuple[tuple[str, str], ...]
) -> tuple[str, str] | None:
    """A digest quoted in pod.yaml from a published list: for one exact file, with its source."""
    given = [algorithm for algorithm in _QUOTED_DIGESTS if algorithm in item.data]
    if not given:
        for field in ("checksum_source", "checksum_publisher"):
            if field in item.data:
                raise item.error(field, f"only goes with a quoted digest ({' or '.join(_QUOTED_DIGESTS)})")
        return None
    if len(given) > 1:
        raise item.error(given[1], f"expected one quoted digest, found {' and '.join(given)}")
    algorithm = given[0]
    digest = item.string(algorithm)
    if not re.fullmatch(f"[0-9a-f]{{{_QUOTED_DIGESTS[algorithm]}}}", digest):
        raise item.error(
            algorithm, f"expected {_QUOTED_DIGESTS[algorithm]} lowercase hex digits, found {digest!r}"
        )
    if source or not is_exact_version(version):
        raise item.error(
            algorithm,
            f"a quoted digest is for one file: expected an exact version and no source, found {version!r}",
        )
    checksum_source = item.string("checksum_source", required=True)
    if not re.match(r"^https?://", checksum_source):
        raise item.error(
            "checksum_source", f"expected the URL the digest is published at, found {checksum_source!r}"
        )
    publisher = item.string("checksum_publisher", required=True)
    if publisher not in _PUBLISHERS:
        raise item.error(
            "checksum_publisher", f"expected one of {', '.join(_PUBLISHERS)}, found {publisher!r}"
        )
    return algorithm, digest


def _is_oci(source: tuple[tuple[str, str], ...]) -> bool:
    return any(kind == "oci_tags" for kind, _ in source)


def is_exact_version(version: str) -> bool:
    return bool(re.match(r"^v?\d+(\.\d+)*([-+][0-9A-Za-z.-]+)?$", version))

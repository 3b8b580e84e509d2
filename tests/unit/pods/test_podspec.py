from pathlib import Path

import pytest

from pods.errors import PodsError
from pods.podspec import parse_pod_spec

FILE = "build_files/demo/pod.yaml"


def parse(text: str):
    return parse_pod_spec(text, pod="demo", path=Path(FILE), display=FILE)


def error_of(text: str) -> str:
    with pytest.raises(PodsError) as info:
        parse(text)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"{FILE}: ")
    return message


def test_full_spec_is_read_into_typed_fields():
    spec = parse(
        """
description: everything
debian: {packages: [gcc, make]}
pypi: {python: "3.13", packages: ["torch==2.15.0", "jupyterlab>=4.6,<5"]}
npm: {packages: {"@anthropic-ai/claude-code": "^2.1.0"}}
vendor:
  helm:
    version: 3.19.0
    source: {github_release: helm/helm}
    url: "https://example.invalid/helm-v{version}.tar.gz"
    checksums: "https://example.invalid/helm-v{version}.tar.gz.sha256sum"
    install: {kind: tar, bin: [linux-amd64/helm]}
env: {CUDA_HOME: /opt/cuda}
"""
    )
    assert spec.debian.packages == ("gcc", "make")
    assert spec.pypi.python == "3.13" and spec.pypi.packages[1] == "jupyterlab>=4.6,<5"
    assert spec.npm.packages == (("@anthropic-ai/claude-code", "^2.1.0"),)
    assert spec.vendor[0].name == "helm" and spec.vendor[0].source == (("github_release", "helm/helm"),)
    assert spec.env == (("CUDA_HOME", "/opt/cuda"),)


def test_unknown_top_level_key_names_the_field():
    assert "field pakages: unknown key" in error_of("description: x\npakages: [gcc]\n")


def test_unknown_nested_key_names_the_dotted_field():
    assert "field debian.pkgs: unknown key" in error_of("description: x\ndebian: {pkgs: [gcc]}\n")


def test_wrong_type_says_expected_and_found():
    message = error_of("description: x\nnpm: {packages: [a, b]}\n")
    assert "field npm.packages: expected a mapping, found a list" in message


def test_wrong_item_type_names_the_index():
    assert "field debian.packages[1]" in error_of("description: x\ndebian: {packages: [gcc, 3]}\n")


def test_duplicate_debian_package():
    assert "field debian.packages[2]: duplicate component 'gcc'" in error_of(
        "description: x\ndebian: {packages: [gcc, make, gcc]}\n"
    )


def test_duplicate_pypi_requirement_after_name_normalization():
    assert "duplicate component 'pyyaml'" in error_of(
        "description: x\npypi: {python: '3.13', packages: [PyYAML, 'pyyaml>=6']}\n"
    )


def test_duplicate_yaml_key_is_not_silently_dropped():
    message = error_of(
        "description: x\nvendor:\n  helm: {version: '1.0', url: u, checksums: c, install: {kind: tar}}\n"
        "  helm: {version: '2.0', url: u, checksums: c, install: {kind: tar}}\n"
    )
    assert "duplicate key 'helm'" in message and "line 4" in message


def test_missing_description_is_required():
    assert "field description: is required" in error_of("debian: {packages: []}\n")


def test_vendor_range_without_source_is_an_error():
    assert "field vendor.helm.source: is required" in error_of(
        "description: x\nvendor:\n  helm: {version: latest, url: u, checksums: c, install: {kind: tar}}\n"
    )


QUOTED = (
    "description: x\nvendor:\n  sdk:\n    version: '8.0.425'\n    url: u\n    install: {kind: tar}\n"
    "    checksum_source: https://example.invalid/notes\n    checksum_publisher: upstream\n"
)


def test_quoted_digest_is_read_with_its_source():
    [item] = parse(QUOTED + "    sha512: " + "a" * 128 + "\n").vendor
    assert item.quoted == ("sha512", "a" * 128)
    assert (item.checksum_source, item.checksum_publisher) == ("https://example.invalid/notes", "upstream")


def test_quoted_digest_of_the_wrong_length():
    assert error_of(QUOTED + "    sha256: abc\n") == (
        f"{FILE}: field vendor.sdk.sha256: expected 64 lowercase hex digits, found 'abc'"
    )


def test_quoted_digest_needs_its_source():
    text = QUOTED.replace("    checksum_source: https://example.invalid/notes\n", "")
    assert error_of(text + "    sha256: " + "a" * 64 + "\n") == (
        f"{FILE}: field vendor.sdk.checksum_source: is required"
    )


def test_quoted_digest_needs_a_known_publisher():
    text = QUOTED.replace("publisher: upstream", "publisher: someone")
    assert error_of(text + "    sha256: " + "a" * 64 + "\n") == (
        f"{FILE}: field vendor.sdk.checksum_publisher: expected one of upstream, third-party, found 'someone'"
    )


def test_quoted_digest_and_checksums_file_together():
    assert error_of(QUOTED + "    sha256: " + "a" * 64 + "\n    checksums: c\n") == (
        f"{FILE}: field vendor.sdk.checksums: expected either checksums or sha256, found both"
    )


def test_quoted_digest_for_a_version_range():
    text = QUOTED.replace("version: '8.0.425'", "version: '^8.0'") + "    source: {github_release: a/b}\n"
    assert error_of(text + "    sha256: " + "a" * 64 + "\n") == (
        f"{FILE}: field vendor.sdk.sha256: a quoted digest is for one file: "
        "expected an exact version and no source, found '^8.0'"
    )


def test_checksum_source_without_a_quoted_digest():
    assert error_of(QUOTED + "    checksums: c\n") == (
        f"{FILE}: field vendor.sdk.checksum_source: only goes with a quoted digest (sha256 or sha512)"
    )


def test_env_keeps_variable_references_quotes_and_newlines_as_written():
    spec = parse(
        'description: d\nenv: {PATH: "/opt/bin:$PATH:${HOME}/bin", Q: "it\'s \\"quoted\\"\\nnext"}\n'
    )
    assert dict(spec.env) == {"PATH": "/opt/bin:$PATH:${HOME}/bin", "Q": 'it\'s "quoted"\nnext'}


@pytest.mark.parametrize(
    "env, expected",
    [
        ("{9LIVES: x}", "field env.9LIVES: expected a shell identifier"),
        ('{"A B": x}', "field env.A B: expected a shell identifier"),
        ('{A: "$(reboot)"}', "field env.A: `$(r...` is not a variable reference"),
        ('{A: "${A:-x}"}', "field env.A: `${A...` is not a variable reference"),
        ('{A: "a\\0b"}', "field env.A: a NUL byte cannot be in an environment variable"),
    ],
)
def test_env_names_and_values_are_checked_at_lock_time(env, expected):
    assert error_of(f"description: d\nenv: {env}\n").startswith(f"{FILE}: {expected}")

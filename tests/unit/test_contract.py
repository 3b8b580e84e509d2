"""The shared formats: env quoting, exclusions spelling, lock checks, the closure check."""

import subprocess

import pytest

import pods_contract as c


def shell_value(env: dict[str, str], name: str, preset: dict[str, str] | None = None) -> str:
    script = c.render_env_script(env) + f'printf %s "${name}"'
    return subprocess.run(
        ["sh", "-c", script], capture_output=True, text=True, check=True, env=preset or {"HOME": "/home/x"}
    ).stdout


def test_env_values_come_back_exactly_as_written():
    tricky = "a\"b'c`id` $(touch /tmp/pwned)\nsecond line"
    assert c.env_problem("X", tricky) is not None  # $( is refused at lock time...
    literal = "a\"b'c`id`\nsecond line \\n"
    assert shell_value({"X": literal}, "X") == literal  # ...and what passes is literal


def test_env_references_expand_and_nothing_else():
    env = {"PATH": "/opt/cuda/bin:$PATH", "D": "${HOME}/data"}
    assert shell_value(env, "PATH", {"PATH": "/usr/bin"}) == "/opt/cuda/bin:/usr/bin"
    assert shell_value(env, "D") == "/home/x/data"


@pytest.mark.parametrize(
    "name, value",
    [("1BAD", "x"), ("A-B", "x"), ("OK", "$(id)"), ("OK", "${X:-y}"), ("OK", "a$"), ("OK", 3)],
)
def test_env_bad_names_and_values_are_named(name, value):
    problem = c.env_problem(name, value)
    assert problem and (str(name) in problem)
    with pytest.raises(c.ContractError):
        c.render_env_script({name: value})


def test_excluded_has_one_spelling():
    assert c.render_excluded(["helm", "dotnet-sdk", "helm"]) == "dotnet-sdk,helm"
    both = ["dotnet-sdk", "helm"]
    assert c.parse_excluded("dotnet-sdk,helm") == c.parse_excluded("helm\ndotnet-sdk\n") == both
    assert c.parse_excluded(c.render_excluded_file(["helm"])) == ["helm"]


def test_a_merge_conflict_in_a_lock_is_one_line():
    text = '<<<<<<< HEAD\n{"schema_version": 1}\n=======\n{}\n>>>>>>> other\n'
    with pytest.raises(c.ContractError) as e:
        c.parse_lock(text, "build_files/devops/pod.lock.json")
    assert "build_files/devops/pod.lock.json: line 1: a merge conflict marker" in str(e.value)
    assert "\n" not in str(e.value)


def test_a_lock_of_another_schema_is_refused():
    with pytest.raises(c.ContractError, match="field schema_version: expected 1, found 2"):
        c.parse_lock('{"schema_version": 2}', "x")


def test_closure_check_names_what_differs():
    locked = [{"name": "a", "version": "1", "sha256": "aa"}, {"name": "b", "version": "2", "sha256": "bb"}]
    index = {"a": {"SHA256": "aa"}, "b": {"SHA256": "bb"}}
    assert c.closure_problem(locked, {"a": "1", "b": "2"}, index) is None
    assert c.closure_problem(locked, {"a": None, "b": None}, index) is None
    assert "also c" in c.closure_problem(locked, {"a": "1", "b": "2", "c": "3"}, index)
    assert "not b" in c.closure_problem(locked, {"a": "1"}, index)
    assert "locked at 2, apt has 3" in c.closure_problem(locked, {"a": "1", "b": "3"}, index)
    moved = {**index, "b": {"SHA256": "cc"}}
    assert "sha256 bb in the lock, cc" in c.closure_problem(locked, {"a": "1", "b": "2"}, moved)

import pytest

from pods.versions import highest, satisfies

RELEASES = ["v3.18.4", "v3.19.0", "v3.19.2", "v4.0.0-rc.1", "v3.9.9", "v4.0.1"]


@pytest.mark.parametrize(
    "spec,expected",
    [
        ("latest", "v4.0.1"),
        ("^3.18", "v3.19.2"),
        ("~3.18", "v3.18.4"),
        ("3.19.*", "v3.19.2"),
        (">=3.10,<4", "v3.19.2"),
        ("3.19.0", "v3.19.0"),
        ("v3.9.9", "v3.9.9"),
        (">=5", None),
    ],
)
def test_highest_release_matching_a_range(spec, expected):
    assert highest(RELEASES, spec) == expected


def test_prereleases_only_match_exactly():
    assert not satisfies("4.0.0-rc.1", ">=4")
    assert satisfies("4.0.0-rc.1", "4.0.0-rc.1")


def test_numeric_not_lexical_order():
    assert highest(["1.9.0", "1.10.0"], "latest") == "1.10.0"


def test_garbage_range_is_a_value_error():
    with pytest.raises(ValueError):
        satisfies("1.0.0", "about one")

"""Repository names and tags against the distribution spec's grammars."""

import pytest

from oci.names import MAX_NAME_LENGTH, InvalidName, check_repository_name, is_tag, project_name_of


@pytest.mark.parametrize(
    "name",
    [
        "alpine",
        "library/alpine",
        "a/b/c/d",
        "my-app",
        "my--app",
        "my.app",
        "my_app",
        "my__app",
        "0",
        "team1/app2.v3",
    ],
)
def test_a_name_in_the_grammar_is_accepted(name: str) -> None:
    assert check_repository_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "",
        "Alpine",
        "library/Alpine",
        "-app",
        "app-",
        ".app",
        "app.",
        "my...app",
        "my___app",
        "my._app",
        "/alpine",
        "alpine/",
        "library//alpine",
        "my app",
        "my:app",
    ],
)
def test_a_name_outside_the_grammar_is_name_invalid(name: str) -> None:
    with pytest.raises(InvalidName):
        check_repository_name(name)


def test_a_name_of_the_maximum_length_is_accepted() -> None:
    name = "a" * MAX_NAME_LENGTH

    assert check_repository_name(name) == name


def test_a_name_longer_than_the_maximum_is_name_invalid() -> None:
    with pytest.raises(InvalidName):
        check_repository_name("a" * (MAX_NAME_LENGTH + 1))


@pytest.mark.parametrize("tag", ["latest", "v1.0.0", "1.0", "_private", "A-Z_a.z", "a" * 128])
def test_a_tag_in_the_grammar_is_a_tag(tag: str) -> None:
    assert is_tag(tag)


@pytest.mark.parametrize("tag", ["", ".hidden", "-dash", "a" * 129, "with space", "with/slash", "sha256:abc"])
def test_a_tag_outside_the_grammar_is_not_a_tag(tag: str) -> None:
    assert not is_tag(tag)


def test_an_invalid_name_says_which_name_and_why() -> None:
    with pytest.raises(InvalidName) as raised:
        check_repository_name("Team/App")

    assert raised.value.detail["name"] == "Team/App"
    assert "lowercase" in raised.value.detail["reason"]


@pytest.mark.parametrize(
    ("name", "project"), [("team-a/api/server", "team-a"), ("library/alpine", "library"), ("alpine", "alpine")]
)
def test_a_repository_belongs_to_the_project_its_first_component_names(name: str, project: str) -> None:
    assert project_name_of(name) == project

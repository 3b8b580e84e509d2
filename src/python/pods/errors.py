"""The one error type `pods` reports to a user."""

from __future__ import annotations

from pods_contract import ContractError


class PodsError(Exception):
    """Something the user can act on, printed as one line and nothing else.

    The message names where (pod and component, or file and field) and what was
    expected versus found; no traceback is shown for it.
    """

    def __init__(self, where: str, message: str) -> None:
        # One line even when a tool's stderr was folded into the message.
        super().__init__(" ".join(f"{where}: {message}".split()))


def pod_error(pod: str, component: str, message: str) -> PodsError:
    """An error while resolving one component (debian, pypi, npm, vendor, pixi) of a pod."""
    return PodsError(f"pod {pod}: {component}", message)


def from_contract(error: ContractError) -> PodsError:
    """A format error of pods_contract (already one line, `<file>: <what>`) as pods reports it."""
    where, _, message = str(error).partition(": ")
    return PodsError(where, message)

"""How much one merge may add to a deck, so that a small request cannot make a worker build gigabytes.

A template is a zip, so a few kilobytes can hold thousands of `{{x}}` placeholders or table shapes, and
each one repeats a value of the request (or a template row per record). Everything a merge adds is
charged here before it is built.
"""

from __future__ import annotations

from handlers.common.errors import HandlerError

_MIB = 1024 * 1024
# PowerPoint tables stop at 75 x 75 cells and a slide shows a few hundred words, so 32 MiB of added
# text and table XML is hundreds of times what a real deck gains, and a few hundred MiB of worker
# memory at most (lxml keeps a few bytes of tree per byte of XML).
MAX_MERGE_GROWTH_BYTES = 32 * _MIB
# Python format specs are a few characters (`,.2f`, `>12`); a width or precision past this is not a
# layout, it is a request for a huge string.
MAX_FORMAT_NUMBER = 1000
MAX_FORMAT_SPEC_CHARS = 100


class GrowthBudget:
    """The bytes of text and XML one merge may still add; `take` fails the merge once it is spent."""

    __slots__ = ("_left", "_limit")

    def __init__(self, limit: int = MAX_MERGE_GROWTH_BYTES) -> None:
        if limit <= 0:
            raise ValueError("a merge growth budget must be positive")
        self._limit = limit
        self._left = limit

    def take(self, amount: int, what: str) -> None:
        """Charge `amount` bytes for `what` (named in the error), or raise HandlerError if over budget."""
        if amount < 0:
            raise ValueError("a merge cannot take a negative amount from its budget")
        self._left -= amount
        if self._left < 0:
            raise HandlerError(
                f"the merge would add more than {self._limit // _MIB} MiB of text and table rows to the deck "
                f"({what}); a template that repeats values this often is refused"
            )

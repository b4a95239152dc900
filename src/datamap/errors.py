"""The one exception type users see.

Every problem with user input (a file, a column, a row, a flag) is raised as a
:class:`DatamapError` whose message is a single line naming the offending thing. The CLI
prints it as ``error: <message>`` and exits with status 2.
"""


class DatamapError(Exception):
    """Bad input or an inconsistent run directory; the message is one line for the user."""

    exit_code = 2

    def __init__(self, message: str):
        super().__init__(" ".join(str(message).split()))

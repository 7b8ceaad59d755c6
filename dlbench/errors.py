"""The one exception family the core raises; the CLI maps it to exit code 2."""


class DlbenchError(Exception):
    """A problem the user can fix: bad input, unreadable file, unusable backend."""


class UsageError(DlbenchError):
    """An option or parameter value that cannot be used."""


class ResultFileError(DlbenchError):
    """A result file that is missing, not JSON, or of an unknown schema."""


class BackendUnavailable(DlbenchError):
    """A backend the user asked for explicitly cannot run here."""


class EnvironmentUnusable(DlbenchError):
    """A side of an A/B run (`dlbench ab`) that cannot run dlbench's worker or a requested
    backend: no Python, missing dependencies, a crash while starting."""

"""The ApplianceError tree: every failure the product reports on purpose.

Each error carries an exit code (see ARCHITECTURE.md) and a hint naming the next command, so the CLI can
print two useful lines instead of a traceback.  This module imports nothing from the package.
"""

from __future__ import annotations

OK = 0
ERROR = 1
USAGE = 2
INTEGRITY = 3
POLICY = 4
LOCKED = 5
INTERRUPTED = 130


class ApplianceError(Exception):
    """Base of every deliberate failure.  ``hint`` says what to do next."""

    exit_code = ERROR

    def __init__(self, message: str, hint: str | None = None, *, details: list[str] | None = None):
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details = list(details or [])

    def to_dict(self) -> dict:
        return {
            "error": type(self).__name__,
            "message": self.message,
            "hint": self.hint,
            "details": self.details,
            "exit_code": self.exit_code,
        }


class UsageError(ApplianceError):
    """Bad arguments or a command that cannot apply to this home."""

    exit_code = USAGE


class ConfigError(UsageError):
    """A config or recipe file with problems; ``details`` lists every one of them."""

    def __init__(self, source: str, problems: list[str], hint: str | None = None):
        n = len(problems)
        super().__init__(
            f"{source}: {n} problem{'s' if n != 1 else ''} found",
            hint or f"fix {source} and run the command again",
            details=problems,
        )
        self.source = source
        self.problems = problems


class NotInitialized(UsageError):
    """The home has no keyring yet."""


class InputError(ApplianceError):
    """A file given by the user cannot be read or parsed."""


class IntegrityError(ApplianceError):
    """Tampering, a bad signature or a hash mismatch."""

    exit_code = INTEGRITY


class PolicyRefused(ApplianceError):
    """Refused on purpose: unsafe resume, eval gate, failed hardening check, rollback."""

    exit_code = POLICY


class Locked(ApplianceError):
    """Wrong passphrase or no key material to unlock with."""

    exit_code = LOCKED


class MissingComponent(ApplianceError):
    """An optional dependency (GPU, TensorRT, a spaCy model, …) is not available on this host."""


class Interrupted(ApplianceError):
    exit_code = INTERRUPTED

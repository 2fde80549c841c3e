"""Who is asking: the user every run and job belongs to, and what they may see.

On a laptop there is one user, ``local``, who owns every run (runs tracked before owners
existed count as theirs). In class mode the app signs learners in with OpenID Connect and
builds the :class:`User` from the identity provider's claims (``st.user``), never from a
value the browser sends; instructors are listed by e-mail in ``DLL_INSTRUCTORS``.

Ownership is checked where runs and jobs are read, exported, stopped and deleted
(:mod:`core.tracking`, :mod:`core.jobs`), with :meth:`User.check`.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

LOCAL = "local"  # the owner of every run on a laptop, and of runs tracked before owners existed
OWNER_ENV = "DLL_RUN_OWNER"  # set by a runner around each job: the owner its runs are tagged with


class NotYours(PermissionError):
    """A user asked for a run or a job that belongs to someone else."""

    plain_message = True


@dataclass(frozen=True)
class User:
    """A user of the lab: ``id`` is the e-mail in class mode (``local`` on a laptop)."""

    id: str
    name: str = ""
    instructor: bool = False

    @property
    def label(self) -> str:
        return self.name or self.id

    def can_see(self, owner: str | None) -> bool:
        """Whether this user may read, export, stop or delete what ``owner`` owns."""
        return self.instructor or (owner or LOCAL) == self.id

    def check(self, owner: str | None, what: str = "run") -> None:
        """``NotYours`` unless :meth:`can_see` (the message never says whose it is)."""
        if not self.can_see(owner):
            raise NotYours(f"this {what} belongs to another learner: you can only open your own")


LOCAL_USER = User(LOCAL, "you")


def instructors(value: str | None = None) -> frozenset[str]:
    """The instructors' e-mails (lower case) from ``DLL_INSTRUCTORS`` (comma-separated)."""
    raw = os.environ.get("DLL_INSTRUCTORS", "") if value is None else value
    return frozenset(e.strip().lower() for e in raw.split(",") if e.strip())


_EMAIL = re.compile(r"[^@\s'\"\\]+@[^@\s'\"\\]+")


def user_from_claims(claims: Mapping[str, Any] | None, instructor_emails: frozenset[str] | None = None) -> User:
    """The user the identity provider vouches for. ``claims`` is ``st.user`` as a mapping; without a
    signed-in user (no ``[auth]`` configured) it is the laptop's single :data:`LOCAL_USER`.

    Only a verified e-mail names a user in class mode: ``ValueError`` when the provider gave none
    (or said it is not verified), so no two learners can ever share an id."""
    if not claims or not claims.get("is_logged_in", True):
        return LOCAL_USER
    email = str(claims.get("email") or "").strip().lower()
    if not _EMAIL.fullmatch(email) or claims.get("email_verified") is False:
        raise ValueError("the identity provider gave no verified e-mail address for this account")
    teachers = instructors() if instructor_emails is None else instructor_emails
    return User(email, str(claims.get("name") or email), email in teachers)


def run_owner() -> str:
    """The owner a run started now is tagged with (the job's owner, set by the runner)."""
    return os.environ.get(OWNER_ENV) or LOCAL


__all__ = ["LOCAL", "LOCAL_USER", "OWNER_ENV", "NotYours", "User", "instructors", "run_owner", "user_from_claims"]

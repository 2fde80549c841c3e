"""Sign-in for class mode: who is using the lab, from Streamlit's own OpenID Connect login.

On a laptop (no ``[auth]`` section in the secrets) nothing here shows and every page acts for
:data:`core.identity.LOCAL_USER`, as before. With an ``[auth]`` section (``redirect_uri``,
``cookie_secret``, ``client_id``, ``client_secret``, ``server_metadata_url``, or one sub-section
per named provider) the app asks for a sign-in before any page runs (:func:`gate`), builds the
:class:`~core.identity.User` from the identity provider's claims in ``st.user`` — never from a
value the browser sends — and shows who is signed in, with a Sign out button, in the sidebar.

Names and e-mails come from the identity provider, that is from the learner: they are only ever
shown as plain text (``st.text``), never as Markdown or HTML.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import streamlit as st

from core.identity import LOCAL_USER, User, user_from_claims

# the settings of an [auth] section that are not a named provider's sub-section
_SHARED = {"redirect_uri", "cookie_secret", "expose_tokens"}


class NotSignedIn(PermissionError):
    """Class mode and nobody is signed in (``gate`` normally stops the script before this)."""

    plain_message = True


def _auth_section() -> Mapping[str, Any] | None:
    """The ``[auth]`` section of the secrets, or ``None`` (also when there is no secrets file at all:
    ``load_if_toml_exists`` is a quiet probe, where reading ``st.secrets`` would show an error)."""
    secrets = st.secrets
    try:
        if not secrets.load_if_toml_exists():
            return None
        section = secrets.get("auth")
    except Exception:  # noqa: BLE001 - an unreadable secrets file is the same as none for the laptop
        return None
    return section if isinstance(section, Mapping) and section else None


def auth_configured() -> bool:
    """Whether the lab runs in class mode: an ``[auth]`` section exists in the secrets."""
    return _auth_section() is not None


def providers() -> list[str]:
    """The named providers of the ``[auth]`` section (``[auth.google]``, ``[auth.school]`` …); empty
    when the section configures one unnamed provider (``client_id`` directly under ``[auth]``)."""
    section = _auth_section() or {}
    if "client_id" in section:
        return []
    return [name for name, value in section.items() if name not in _SHARED and isinstance(value, Mapping)]


def _claims() -> dict[str, Any]:
    return dict(st.user.to_dict())


def signed_in() -> bool:
    """Class mode and a user is signed in (``st.user.is_logged_in``)."""
    return auth_configured() and _claims().get("is_logged_in") is True


def current_user() -> User:
    """The user the pages act for: :data:`LOCAL_USER` on a laptop; in class mode the signed-in user
    from the identity provider's claims. ``ValueError`` when the provider gave no verified e-mail,
    :class:`NotSignedIn` when nobody is signed in (``gate`` stops the app before either reaches a page)."""
    if not auth_configured():
        return LOCAL_USER
    claims = _claims()
    if claims.get("is_logged_in") is not True:  # checked here: user_from_claims counts a missing flag as signed in
        raise NotSignedIn("sign in to use the lab")
    return user_from_claims(claims)


def _sign_in_buttons() -> None:
    named = providers()
    if not named:
        st.button("Sign in", type="primary", icon=":material/login:", on_click=st.login, key="auth.login")
        return
    for name in named:
        st.button(f"Sign in with {name}", type="primary", icon=":material/login:", on_click=st.login, args=(name,),
                  key=f"auth.login.{name}")


def gate() -> None:
    """Before the navigation runs: in class mode, stop here (after a sign-in screen) unless someone is
    signed in with a verified e-mail. On a laptop it does nothing."""
    if not auth_configured():
        return
    if _claims().get("is_logged_in") is not True:
        st.title("Deep Learning Lab")
        st.write(
            "A browser lab for a deep-learning course: every idea of the course is something you run here, "
            "from a single neuron to GANs, and every training you start is tracked as a run you can compare."
        )
        st.write("Sign in to start: your trainings and runs are your own; your instructor can see them too.")
        _sign_in_buttons()
        st.stop()
    try:
        current_user()
    except ValueError:
        st.title("Deep Learning Lab")
        st.error(
            "Your identity provider did not give this lab a verified e-mail address for your account, and the lab "
            "needs one to keep your runs apart from everyone else's. Verify your e-mail address with the provider, "
            "or sign out and sign in with another account.",
            icon=":material/error:",
        )
        st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="auth.logout")
        st.stop()


def sidebar() -> None:
    """In class mode, who is signed in (name, e-mail, whether an instructor) and a Sign out button."""
    if not signed_in():
        return
    user = current_user()
    with st.sidebar:
        st.caption("Signed in as")
        if user.name and user.name != user.id:
            st.text(user.name)
        st.text(user.id)
        if user.instructor:
            st.badge("Instructor", icon=":material/school:", color="violet")
        st.button("Sign out", icon=":material/logout:", on_click=st.logout, key="auth.logout")
        st.divider()



def sees_tracking_store() -> bool:
    """Whether to show where the tracking store is: on a laptop, or to an instructor (in class mode
    learners never reach the tracking server itself)."""
    if not auth_configured():
        return True
    try:
        return current_user().instructor
    except (PermissionError, ValueError):  # nobody (properly) signed in
        return False


__all__ = ["NotSignedIn", "auth_configured", "current_user", "gate", "providers", "sees_tracking_store", "sidebar",
           "signed_in"]

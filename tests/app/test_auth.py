"""Class-mode sign-in (ui/auth.py wired into app.py), driven with AppTest.

``at.secrets`` gives the app an ``[auth]`` section and ``at.user`` is what the app reads as
``st.user`` (what Streamlit fills from the identity provider's claims after a real sign-in; the
real OIDC round trip is tests/browser/test_class_browser.py)."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from tests.app.helpers import ROOT

AUTH = {
    "redirect_uri": "http://127.0.0.1:8501/oauth2callback",
    "cookie_secret": "a-cookie-secret-for-tests-only-0123456789",
    "client_id": "lab",
    "client_secret": "lab-secret",
    "server_metadata_url": "http://127.0.0.1:9/.well-known/openid-configuration",
}


def app(auth: dict | None = None, user: dict | None = None) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    if auth is not None:
        at.secrets["auth"] = auth
    if user is not None:
        at.user = user
    return at


def buttons(at: AppTest, where=None) -> list[str]:
    return [b.label for b in (where or at).button]


def sidebar_text(at: AppTest) -> str:
    return "\n".join(
        [str(t.value) for t in at.sidebar.text] + [str(c.value) for c in at.sidebar.caption]
        + [str(m.value) for m in at.sidebar.markdown]
    )


def pages_ran(at: AppTest) -> bool:
    """The navigation and a page ran: the shell's sidebar (its global seed) is there."""
    return any(n.label == "Global seed" for n in at.sidebar.number_input)


def test_laptop_without_secrets_is_the_local_user_and_shows_no_sign_in():
    # AppTest's default st.user is {"email": "test@example.com"}: without [auth] it must not count as a sign-in
    at = app().run()
    assert not at.exception
    assert pages_ran(at)
    assert not any(label.startswith("Sign") for label in buttons(at))
    assert "test@example.com" not in sidebar_text(at) and "Signed in" not in sidebar_text(at)
    from ui import auth

    assert not auth.auth_configured()  # and reading the secrets printed no "no secrets found" error
    assert not at.error


@pytest.mark.parametrize("user", [{"is_logged_in": False}, {"email": "sneaky@example.org"}],
                         ids=["logged-out", "claims-without-login-flag"])
def test_class_mode_not_signed_in_shows_the_sign_in_screen_and_no_page(user):
    at = app(AUTH, user).run()
    assert not at.exception
    assert buttons(at) == ["Sign in"]
    assert at.title[0].value == "Deep Learning Lab"
    assert "Sign in" in " ".join(str(m.value) for m in at.markdown)
    assert not pages_ran(at)
    assert "sneaky@example.org" not in sidebar_text(at)


def test_named_providers_get_one_button_each():
    auth = {k: AUTH[k] for k in ("redirect_uri", "cookie_secret")}
    auth["school"] = {k: AUTH[k] for k in ("client_id", "client_secret", "server_metadata_url")}
    auth["google"] = dict(auth["school"])
    at = app(auth, {"is_logged_in": False}).run()
    assert not at.exception
    assert sorted(buttons(at)) == ["Sign in with google", "Sign in with school"]
    assert not pages_ran(at)


def test_signed_in_learner_sees_their_email_and_sign_out_and_signing_out_returns_to_sign_in(monkeypatch):
    monkeypatch.setenv("DLL_INSTRUCTORS", "teacher@example.org")
    # markdown and HTML in the name come from the provider, i.e. from the learner: shown as they are
    name = "Ada **<b>Lovelace</b>** :red[x]"
    at = app(AUTH, {"is_logged_in": True, "email": "Ada@Example.org", "email_verified": True, "name": name}).run()
    assert not at.exception
    assert pages_ran(at)
    texts = [str(t.value) for t in at.sidebar.text]
    assert "ada@example.org" in texts and name in texts
    assert "Sign out" in buttons(at, at.sidebar)
    assert "Instructor" not in sidebar_text(at)
    assert not any("<b>" in str(m.value) or "Lovelace" in str(m.value) for m in at.markdown)

    at.sidebar.button(key="auth.logout").click().run()
    assert not at.exception
    assert at.user == {"is_logged_in": False}
    # in a browser st.logout redirects to /auth/logout and a new session starts: it gets the sign-in screen
    # (the same AppTest cannot show that: it replays the page the last run ended on, without the router)
    after = app(AUTH, at.user).run()
    assert buttons(after) == ["Sign in"] and not pages_ran(after)


def test_instructor_listed_in_DLL_INSTRUCTORS_is_marked(monkeypatch):
    monkeypatch.setenv("DLL_INSTRUCTORS", " someone@else.org , Teacher@Example.org")
    at = app(AUTH, {"is_logged_in": True, "email": "teacher@example.org", "email_verified": True}).run()
    assert not at.exception and pages_ran(at)
    assert "teacher@example.org" in [str(t.value) for t in at.sidebar.text]
    assert "Instructor" in sidebar_text(at)
    from ui import auth

    assert auth.providers() == []


def test_account_without_verified_email_is_told_so_and_can_sign_out():
    at = app(AUTH, {"is_logged_in": True, "email": "eve@example.org", "email_verified": False, "name": "Eve"}).run()
    assert not at.exception
    assert "verified e-mail" in at.error[0].value
    assert buttons(at) == ["Sign out"]
    assert not pages_ran(at)

    at = app(AUTH, {"is_logged_in": True, "name": "No Mail"}).run()  # no e-mail claim at all
    assert not at.exception and "verified e-mail" in at.error[0].value and not pages_ran(at)

"""Class mode in a real browser: a real OpenID Connect sign-in, all on 127.0.0.1.

An OIDC provider (``oidc-provider-mock``, a real provider with a form where you type who you
are) runs in a thread of this process; the lab runs with ``python -m ui.launch`` and a
``secrets.toml`` of its own (``STREAMLIT_SECRETS_FILES``, nothing written into the repository's
``.streamlit/``) whose ``[auth]`` points at that provider. Learners sign in through the
provider's page in separate browser contexts (separate cookie jars: separate people).

The second test runs trainings through the class's Redis queue with two ``python -m core.worker``
processes (``ops.services``) and checks who sees which runs.
"""

from __future__ import annotations

import contextlib
import json
import re
import secrets
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.browser.conftest import no_exception, shot, wait_idle
from tests.conftest import Server, free_port

pytestmark = pytest.mark.browser

TEACHER = "teacher@school.example"
ADA = "ada@school.example"
BOB = "bob@school.example"
EVE = "eve@school.example"  # the provider does not vouch for her e-mail


@dataclass
class Provider:
    url: str

    def add_user(self, email: str, name: str, verified: bool = True) -> None:
        """Register the claims the provider issues for subject ``email`` (the one typed on its page)."""
        body = json.dumps({"email": email, "email_verified": verified, "name": name}).encode()
        req = urllib.request.Request(f"{self.url}/users/{email}", data=body, method="PUT",
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as r:
            assert r.status == 204


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    """oidc-provider-mock on 127.0.0.1 (its own helper binds to "localhost", which may be ::1)."""
    import oidc_provider_mock
    import werkzeug.serving

    server = werkzeug.serving.make_server("127.0.0.1", 0, oidc_provider_mock.app(), threaded=True)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.1}, daemon=True)
    thread.start()
    prov = Provider(f"http://127.0.0.1:{server.server_port}")
    prov.add_user(TEACHER, "Ms Teacher")
    prov.add_user(ADA, "Ada *Lovelace*")  # markdown in a name is shown as it is
    prov.add_user(BOB, "Bob")
    prov.add_user(EVE, "Eve", verified=False)
    yield prov
    server.shutdown()
    thread.join(5)
    server.server_close()


@contextlib.contextmanager
def class_app(folder: Path, provider: Provider, env: dict[str, str] | None = None) -> Iterator[Server]:
    """The lab in class mode: its secrets file in ``folder`` (not the repository's .streamlit/)."""
    port = free_port()
    secrets_file = folder / "secrets" / "secrets.toml"
    secrets_file.parent.mkdir(parents=True)
    auth = {
        "redirect_uri": f"http://127.0.0.1:{port}/oauth2callback",
        "cookie_secret": secrets.token_urlsafe(32),
        "client_id": "deep-learning-lab",
        "client_secret": secrets.token_urlsafe(16),
        "server_metadata_url": f"{provider.url}/.well-known/openid-configuration",
    }
    secrets_file.write_text("[auth]\n" + "".join(f"{k} = {json.dumps(v)}\n" for k, v in auth.items()))
    data = folder / "data"
    data.mkdir()
    server = Server(data, port=port, env={"STREAMLIT_SECRETS_FILES": str(secrets_file), "DLL_INSTRUCTORS": TEACHER,
                                          **(env or {})})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def new_page(browser):
    """``new_page()``: a page in a browser context of its own (its own cookies: another person)."""
    contexts = []

    def make():
        ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
        contexts.append(ctx)
        return ctx.new_page()

    yield make
    for ctx in contexts:
        ctx.close()


def global_seed(page):
    """The shell's "Global seed" input in the sidebar: there only once a page has run."""
    return page.locator('[data-testid="stSidebar"]').get_by_text("Global seed", exact=True)


def sidebar(page) -> str:
    return page.locator('[data-testid="stSidebar"]').inner_text()


def sign_in(page, app_url: str, provider: Provider, email: str, name: str = "") -> None:
    """From the lab's sign-in screen through the provider's page (typing who you are) and back."""
    page.goto(app_url)
    wait_idle(page)
    assert page.get_by_role("heading", name="Deep Learning Lab").is_visible()
    assert page.locator('[data-testid="stSidebarNav"]').count() == 0  # no page before the sign-in
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{provider.url}/oauth2/authorize*", timeout=30_000)
    page.locator('input[name="sub"]').fill(email)
    if name:
        shot(page, f"class-provider-{name}")
    page.get_by_role("button", name="Authorize").click()
    page.wait_for_url(re.compile(re.escape(app_url) + r"/?(\?.*)?$"), timeout=30_000)
    wait_idle(page)


def sign_out(page, app_url: str, provider: Provider) -> None:
    """Sign out: Streamlit clears its cookie and sends the browser to the provider's end-session page."""
    page.locator('[data-testid="stSidebar"]').get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{provider.url}/oauth2/end_session*", timeout=30_000)
    page.get_by_role("button", name="End session").click()
    page.wait_for_url(re.compile(re.escape(app_url) + r"/?(\?.*)?$"), timeout=30_000)
    wait_idle(page)
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)


def test_learners_and_an_instructor_sign_in_through_a_real_oidc_provider(tmp_path, provider, new_page):
    with class_app(tmp_path, provider) as app:
        # learner A: the sign-in screen, the provider's page, back in the lab as herself
        ada = new_page()
        ada.goto(app.url)
        wait_idle(ada)
        assert ada.get_by_role("button", name="Sign in").is_visible()
        assert global_seed(ada).count() == 0  # the pages did not run
        no_exception(ada)
        shot(ada, "class-sign-in-screen")
        sign_in(ada, app.url, provider, ADA, name="ada")
        no_exception(ada)
        side = sidebar(ada)
        assert ADA in side and "Ada *Lovelace*" in side and "Sign out" in side, side
        assert "Instructor" not in side
        assert "Optimizers" in ada.locator('[data-testid="stSidebarNav"]').inner_text()
        assert global_seed(ada).is_visible()
        shot(ada, "class-ada-signed-in")

        # learner B, at the same time in another browser: B, and nothing of A
        bob = new_page()
        sign_in(bob, app.url, provider, BOB)
        side = sidebar(bob)
        assert BOB in side and ADA not in side and "Instructor" not in side, side
        shot(bob, "class-bob-signed-in")
        ada.reload()
        wait_idle(ada)
        assert ADA in sidebar(ada) and BOB not in sidebar(ada)  # A's session is still A's

        sign_out(ada, app.url, provider)
        assert ADA not in ada.content() and global_seed(ada).count() == 0
        shot(ada, "class-ada-signed-out")
        ada.goto(f"{app.url}/runs")  # a deep link after signing out: still the sign-in screen
        wait_idle(ada)
        assert ada.get_by_role("button", name="Sign in").is_visible() and global_seed(ada).count() == 0
        sign_out(bob, app.url, provider)

        # the instructor listed in DLL_INSTRUCTORS
        teacher = new_page()
        sign_in(teacher, app.url, provider, TEACHER)
        side = sidebar(teacher)
        assert TEACHER in side and "Instructor" in side, side
        shot(teacher, "class-instructor-signed-in")

        # an account whose e-mail the provider does not vouch for gets no page, and can sign out
        eve = new_page()
        sign_in(eve, app.url, provider, EVE)
        assert eve.get_by_text("verified e-mail address").is_visible()
        assert global_seed(eve).count() == 0
        shot(eve, "class-unverified-email")
        eve.get_by_role("button", name="Sign out").click()
        eve.wait_for_url(f"{provider.url}/oauth2/end_session*", timeout=30_000)


# ---------------------------------------------------------------------------------------------- trainings


def _services():
    try:
        from ops import services
    except ImportError:
        pytest.skip("needs class-mode services (ops.services)")
    if not (Path(__file__).resolve().parents[2] / "core" / "worker.py").exists():
        pytest.skip("needs class-mode services (core/worker.py)")
    if services.redis_binary() is None:
        pytest.skip("needs redis-server (scripts/ensure_services.sh)")
    return services


def open_race(page, app_url: str, regime: str | None = None):
    page.goto(f"{app_url}/optimizers")
    wait_idle(page)
    page.get_by_role("tab", name="Race on a real network").click()
    wait_idle(page)
    race = page.get_by_role("tabpanel", name="Race on a real network")
    if regime:
        race.get_by_test_id("stRadioGroup").get_by_text(regime, exact=True).click()
        page.wait_for_timeout(500)
    return race


def runs_found(page, app_url: str) -> int:
    """The Runs page's count of the runs this user sees ("N runs found", 0 when it says there are none)."""
    page.goto(f"{app_url}/runs")
    wait_idle(page)
    no_exception(page)
    main = page.locator('[data-testid="stMain"]').inner_text()
    m = re.search(r"(\d+) runs? found", main)
    return int(m.group(1)) if m else 0


def wait_runs(uri: str, owner: str, n: int, statuses: set[str], timeout: float = 240):
    """The tracking store holds ``n`` runs of ``owner`` whose statuses are all in ``statuses``."""
    from core import tracking
    from core.identity import User

    end = time.time() + timeout
    while time.time() < end:
        runs = tracking.search_runs(uri=uri, user=User(owner))
        if len(runs) >= n and set(runs["status"]) <= statuses:
            return runs
        time.sleep(1)
    raise AssertionError(f"{owner}'s runs did not become {n} {statuses}: {runs[['run_name', 'status']]}")


def test_each_learner_sees_only_their_runs_and_the_instructor_sees_all(tmp_path, provider, new_page):
    """Two learners train through the class's queue (Redis, two workers): each sees only their own
    runs, one stops a training while it runs, the instructor sees both learners' runs."""
    services = _services()
    with services.redis_server(tmp_path / "services") as redis:
        data = tmp_path / "app" / "data"
        env = {"DLL_JOBS": redis.url}
        worker_env = {**env, "DLL_DATA_DIR": str(data), "DLL_INSTRUCTORS": TEACHER}
        (tmp_path / "app").mkdir()
        with class_app(tmp_path / "app", provider, env=env) as app, \
                services.worker(worker_env, name="w1", log=tmp_path / "w1.log"), \
                services.worker(worker_env, name="w2", log=tmp_path / "w2.log"):
            uri = app.tracking_uri
            ada, bob = new_page(), new_page()
            sign_in(ada, app.url, provider, ADA)
            sign_in(bob, app.url, provider, BOB)

            # A races to the end (mini-batch: seconds); B starts a long race (stochastic) and stops it
            open_race(ada, app.url).get_by_role("button", name="Start the race").click()
            bob_race = open_race(bob, app.url, regime="stochastic")
            bob_race.get_by_role("slider", name="Epochs").focus()
            bob_race.get_by_role("slider", name="Epochs").press("End")  # the most epochs: Stop lands inside a lane
            bob.wait_for_timeout(500)
            bob_race.get_by_role("button", name="Start the race").click()
            bob.get_by_text("training with").first.wait_for(timeout=120_000)
            bob.get_by_role("button", name="Stop").click()
            bob.get_by_text("Stopped").first.wait_for(timeout=120_000)
            wait_idle(bob)
            no_exception(bob)
            shot(bob, "class-bob-stopped")
            ada.get_by_text("Finished in").wait_for(timeout=240_000)
            wait_idle(ada)
            no_exception(ada)
            shot(ada, "class-ada-race")

            # the trainings ran on the class's workers, not in processes beside the app
            assert app.worker_pids() == [], "the app started job processes of its own"
            import redis as redis_client

            conn = redis_client.Redis.from_url(redis.url, decode_responses=True)
            jobs = [k for k in conn.scan_iter("dll:job:*") if k.count(":") == 2]  # a job's record, not its parts
            ran_on = {conn.hget(k, "worker") for k in jobs}
            assert len(jobs) == 2 and ran_on <= {"w1", "w2"}, ran_on

            ada_runs = wait_runs(uri, ADA, 4, {"FINISHED"})
            bob_runs = wait_runs(uri, BOB, 1, {"FINISHED", "KILLED"})
            assert "KILLED" in set(bob_runs["status"]), bob_runs[["run_name", "status"]]
            assert len(bob_runs) < 4 or set(bob_runs["status"]) != {"FINISHED"}

            # each learner's Runs page lists exactly their own runs
            assert runs_found(ada, app.url) == len(ada_runs)
            shot(ada, "class-ada-runs")
            assert runs_found(bob, app.url) == len(bob_runs)
            assert ADA not in bob.locator('[data-testid="stMain"]').inner_text()
            shot(bob, "class-bob-runs")

            # the instructor sees everyone's, and can pick one learner
            teacher = new_page()
            sign_in(teacher, app.url, provider, TEACHER)
            assert runs_found(teacher, app.url) == len(ada_runs) + len(bob_runs)
            teacher.get_by_text("Learner", exact=True).first.wait_for()
            shot(teacher, "class-instructor-runs")
            teacher.locator('[data-testid="stSelectbox"]').filter(has_text="Learner").click()
            options = teacher.get_by_role("option")
            options.first.wait_for()
            names = options.all_inner_texts()
            assert ADA in names and BOB in names, names

            # jobs belong to the learner, not the tab: Ada starts a long race, opens the page afresh and
            # still sees it live with Stop; the instructor sees it among the class's trainings and stops it
            long_race = open_race(ada, app.url, regime="stochastic")
            long_race.get_by_role("slider", name="Epochs").focus()
            long_race.get_by_role("slider", name="Epochs").press("End")  # the most epochs: it must outlast the test
            ada.wait_for_timeout(500)
            long_race.get_by_role("button", name="Start the race").click()
            ada.get_by_text("training with").first.wait_for(timeout=120_000)
            open_race(ada, app.url)  # a reload: a new session of the same user
            ada.get_by_text("training with").first.wait_for(timeout=60_000)
            ada.get_by_role("button", name="Stop").first.wait_for()
            shot(ada, "class-ada-reloaded")
            teacher.keyboard.press("Escape")
            teacher.goto(f"{app.url}/runs")
            teacher.get_by_text("Trainings in progress (the whole class)").wait_for(timeout=60_000)
            assert ADA in teacher.locator('[data-testid="stMain"]').inner_text()
            shot(teacher, "class-instructor-jobs")
            for _ in range(3):  # the list refreshes every 2 s: a click that lands mid-refresh is pressed again
                teacher.get_by_role("button", name="Stop").first.click()
                try:
                    ada.get_by_text("Stopped").first.wait_for(timeout=40_000)
                    break
                except Exception:  # noqa: BLE001
                    assert teacher.get_by_role("button", name="Stop").count(), "the job ended without being stopped"
            ada.get_by_text("Stopped").first.wait_for(timeout=60_000)
            no_exception(ada)
            shot(ada, "class-ada-stopped-by-instructor")
            assert "KILLED" in set(wait_runs(uri, ADA, 5, {"FINISHED", "KILLED"})["status"])

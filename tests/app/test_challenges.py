"""Challenges in the pages: Home's progress board, a page's Challenges box and its link to the run."""

from __future__ import annotations

from streamlit.testing.v1 import AppTest

from core import challenges, tracking
from tests.app.helpers import ROOT, page
from ui import challenges as ui_challenges


def _race_lane(accuracy: float) -> str:
    """A finished optimizer-race lane on digits, 2 epochs, with this final dev accuracy."""
    params = {"dataset": "digits", "epochs": 2, "optimizer": "Adam", "lr": 0.002, "seed": 0}
    with tracking.start_run("optimizers", params, run_name=f"Adam at {accuracy}") as run:
        run.log_metrics({"final_dev_accuracy": accuracy, "final_dev_loss": 0.2}, 10)
    return run.run_id


def _progress_texts(at: AppTest) -> list[str]:
    return [p.proto.text for p in at.get("progress")]


def test_home_board_counts_the_goals_met(fresh_store):
    total = len(challenges.GOALS)
    _race_lane(0.94)  # just misses "95 % on digits within 2 epochs"
    at = page("home").run()
    assert not at.exception
    assert f"0 of {total} goals met" in _progress_texts(at)
    assert any(s.value == "Your challenges" for s in at.subheader)

    _race_lane(0.96)
    ui_challenges._boards.clear()  # the runs are cached per store and user for a few seconds
    at = page("home").run()
    assert f"1 of {total} goals met" in _progress_texts(at)
    table = at.dataframe[0].value.set_index("page")
    assert table.at["Optimizers", "met"] == 1 and table.at["Optimizers", "total"] == 2
    assert table.at["Network basics", "met"] == 0


def test_a_page_shows_its_challenges_and_opens_the_run_that_met_one(fresh_store):
    run_id = _race_lane(0.97)
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90).run()
    at.switch_page(str(ROOT / "pages" / "optimizers.py")).run()
    assert not at.exception
    box = [e for e in at.expander if e.label == "Challenges"]
    assert box, "the page has no Challenges box"
    assert not box[0].markdown  # closed: nothing read or drawn
    at.session_state["optimizers.challenges"] = True  # the learner opens the box
    at.run()
    box = [e for e in at.expander if e.label == "Challenges"]
    shown = "\n".join(str(m.value) for m in box[0].markdown)
    assert f"{ui_challenges.MET} **Reach 95 % on digits within 2 epochs**" in shown
    assert f"{ui_challenges.OPEN} **Show momentum beating plain gradient descent**" in shown
    assert "1 of 2 met" in _progress_texts(at)

    at.button(key="optimizers.challenge.optimizers.digits").click().run()
    assert not at.exception
    assert at.session_state["runs.pick"] == [run_id]
    assert any("1 run selected" in str(c.value) for c in at.caption), "the Runs page did not open the run"


def test_an_instructor_sees_the_class_board_and_a_learner_does_not(fresh_store, monkeypatch):
    from tests.app.test_auth import AUTH

    monkeypatch.setenv("DLL_INSTRUCTORS", "teacher@example.org")
    for learner, accuracy in (("ada@example.org", 0.97), ("bob@example.org", 0.5)):
        monkeypatch.setenv("DLL_RUN_OWNER", learner)
        _race_lane(accuracy)
    monkeypatch.delenv("DLL_RUN_OWNER")
    ui_challenges._boards.clear()

    def home(email: str) -> AppTest:
        at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
        at.secrets["auth"] = AUTH
        at.user = {"is_logged_in": True, "email": email, "email_verified": True}
        return at.run()

    teacher = home("teacher@example.org")
    assert not teacher.exception
    assert any(s.value == "The class's challenges" for s in teacher.subheader)
    summary = next(d.value for d in teacher.dataframe if "Learner" in d.value.columns and "Goals met" in d.value.columns)
    assert dict(zip(summary["Learner"], summary["Goals met"], strict=True)) == {"ada@example.org": 1, "bob@example.org": 0}
    assert f"0 of {len(challenges.GOALS)} goals met" in _progress_texts(teacher)  # the teacher's own runs: none

    ada = home("ada@example.org")
    assert not ada.exception
    assert not any(s.value == "The class's challenges" for s in ada.subheader)
    assert f"1 of {len(challenges.GOALS)} goals met" in _progress_texts(ada)

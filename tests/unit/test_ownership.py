"""Own runs and own jobs: who a run belongs to, and that core refuses another learner's runs and jobs
in every function that reads, exports, changes, stops or deletes them (not a hidden button)."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch

from core import tracking
from core.identity import LOCAL, LOCAL_USER, OWNER_ENV, NotYours, User, instructors, user_from_claims
from tests import jobfns

ANN = User("ann@school.edu", "Ann")
BOB = User("bob@school.edu", "Bob")
TEACHER = User("teacher@school.edu", "T", instructor=True)


def _run(monkeypatch, owner: str | None, name: str) -> str:
    """A finished run with a metric, an image, a text and weights, started as the runner starts a job of ``owner``."""
    if owner is None:
        monkeypatch.delenv(OWNER_ENV, raising=False)
    else:
        monkeypatch.setenv(OWNER_ENV, owner)
    with tracking.start_run("demo", {"lr": 0.1}, run_name=name) as run:
        run.log_metrics({"loss": 0.5}, 1)
        run.log_metrics({"loss": 0.25}, 2)
        run.log_image(np.zeros((4, 4, 3), dtype=np.uint8), "sample.png")
        run.log_text("hello", "notes.txt")
        net = torch.nn.Linear(2, 1)
        torch.nn.init.ones_(net.weight)
        run.log_state_dict(net)
    monkeypatch.delenv(OWNER_ENV, raising=False)
    return run.run_id


@pytest.fixture
def three_runs(fresh_store, monkeypatch):
    return {"ann": _run(monkeypatch, ANN.id, "ann's"), "bob": _run(monkeypatch, BOB.id, "bob's"),
            "old": _run(monkeypatch, None, "before owners")}


def test_every_run_is_tagged_with_the_owner_its_job_ran_for(three_runs):
    teacher = tracking.search_runs(user=TEACHER).set_index("run_name")
    assert teacher.loc["ann's", "owner"] == ANN.id and teacher.loc["ann's", f"tags.{tracking.TAG_OWNER}"] == ANN.id
    assert teacher.loc["bob's", "owner"] == BOB.id
    assert teacher.loc["before owners", "owner"] == LOCAL  # no job owner: the laptop's single user


def test_a_learner_lists_only_their_own_runs_and_an_instructor_everyones(three_runs):
    assert set(tracking.search_runs(user=ANN)["run_id"]) == {three_runs["ann"]}
    assert set(tracking.search_runs(user=BOB)["run_id"]) == {three_runs["bob"]}
    assert set(tracking.search_runs(user=LOCAL_USER)["run_id"]) == {three_runs["old"]}
    assert set(tracking.search_runs(user=TEACHER)["run_id"]) == set(three_runs.values())
    assert set(tracking.search_runs(user=TEACHER, owner=BOB.id)["run_id"]) == {three_runs["bob"]}
    # a learner cannot widen their list by naming someone else
    assert set(tracking.search_runs(user=ANN, owner=BOB.id)["run_id"]) == {three_runs["ann"]}
    # nor by a filter of their own
    assert tracking.search_runs(user=ANN, filter_string=f"tags.`{tracking.TAG_OWNER}` = '{BOB.id}'").empty
    assert tracking.count_runs(user=ANN) == 1 and tracking.count_runs(user=TEACHER) == 3


READERS = {
    "metrics": lambda rid, u: tracking.metric_history(rid, "loss", user=u),
    "images": lambda rid, u: tracking.image_artifacts(rid, user=u),
    "text": lambda rid, u: tracking.text_artifact(rid, "notes.txt", user=u),
    "params": lambda rid, u: tracking.run_params(rid, user=u),
    "tags": lambda rid, u: tracking.run_tags(rid, user=u),
    "weights": lambda rid, u: tracking.saved_weights(rid, user=u),
    "annotate": lambda rid, u: tracking.annotate_run(rid, tags={tracking.TAG_SUMMARY: "1"}, user=u),
    "delete": lambda rid, u: tracking.delete_runs([rid], user=u),  # last: it deletes
}


def test_another_learners_run_is_refused_by_every_reader(three_runs):
    for what, read in READERS.items():
        with pytest.raises(NotYours, match="another learner"):
            read(three_runs["bob"], ANN)
        with pytest.raises(NotYours):
            read(three_runs["ann"], LOCAL_USER)  # the laptop's user owns nothing of a class
        read(three_runs["old"], TEACHER)  # an instructor may, whoever's it is
        read(three_runs["ann"], ANN)  # and the owner
    assert set(tracking.search_runs(user=TEACHER)["run_id"]) == {three_runs["bob"]}  # Bob's run survived


def test_the_owner_reads_the_same_as_before(three_runs):
    hist = tracking.metric_history(three_runs["ann"], "loss", user=ANN)
    assert hist["value"].tolist() == [0.5, 0.25]
    assert tracking.text_artifact(three_runs["ann"], "notes.txt", user=ANN) == "hello"
    assert torch.equal(tracking.saved_weights(three_runs["ann"], user=ANN)["weight"], torch.ones(1, 2))
    assert [p for p, _ in tracking.image_artifacts(three_runs["ann"], user=ANN)] == ["images/sample.png"]


def test_deleting_a_mix_of_own_and_foreign_runs_deletes_nothing(three_runs):
    with pytest.raises(NotYours):
        tracking.delete_runs([three_runs["ann"], three_runs["bob"]], user=ANN)
    assert set(tracking.search_runs(user=TEACHER)["run_id"]) == set(three_runs.values())
    assert tracking.delete_runs([three_runs["ann"]], user=ANN) == 1
    assert tracking.search_runs(user=ANN).empty


def test_an_owner_tag_cannot_be_rewritten(three_runs):
    with pytest.raises(ValueError, match="owner cannot be changed"):
        tracking.annotate_run(three_runs["ann"], tags={tracking.TAG_OWNER: BOB.id}, user=ANN)
    # nor set by a run's own tags: the owner is the job's
    with tracking.start_run("demo", None, run_name="sneaky", tags={tracking.TAG_OWNER: BOB.id}) as run:
        pass
    assert tracking.run_tags(run.run_id, user=TEACHER)[tracking.TAG_OWNER] == LOCAL


def test_a_trained_network_loads_only_for_its_owner(three_runs):
    """The pages' loaders (here the CNN page's) go through the same check."""
    from core.cnn.training import load_tracked

    with pytest.raises(NotYours):
        load_tracked(three_runs["ann"], BOB)


def test_users_come_from_the_identity_providers_claims(monkeypatch):
    assert user_from_claims(None) is LOCAL_USER
    assert user_from_claims({"is_logged_in": False}) is LOCAL_USER
    monkeypatch.setenv("DLL_INSTRUCTORS", " Teacher@School.edu , other@school.edu")
    assert instructors() == {"teacher@school.edu", "other@school.edu"}
    ann = user_from_claims({"is_logged_in": True, "email": "Ann@School.edu", "name": "Ann", "email_verified": True})
    assert ann == User("ann@school.edu", "Ann", False)
    teacher = user_from_claims({"is_logged_in": True, "email": "teacher@school.edu"})
    assert teacher.instructor and teacher.can_see(ANN.id)
    for claims in ({"is_logged_in": True, "sub": "123"}, {"is_logged_in": True, "email": "x@y.z", "email_verified": False},
                   {"is_logged_in": True, "email": "local"}, {"is_logged_in": True, "email": "a'b@c.d"}):
        with pytest.raises(ValueError, match="verified e-mail"):
            user_from_claims(claims)


def test_jobs_belong_to_their_user(fresh_store, monkeypatch):
    from core.jobs import LocalRunner

    runner = LocalRunner()
    try:
        other = runner.submit("other", jobfns.echo, "x", user=BOB)
        assert runner.wait(other, 60, user=BOB).status == "finished"
        job = runner.submit("demo", jobfns.tracked_spin, None, user=ANN)
        assert [j.id for j in runner.jobs(user=ANN)] == [job]
        assert {j.id for j in runner.jobs(user=TEACHER)} == {job, other}
        assert runner.jobs(user=LOCAL_USER) == []
        with pytest.raises(NotYours):
            runner.snapshot(job, user=BOB)
        with pytest.raises(NotYours):
            runner.cancel(job, user=BOB)
        deadline = time.time() + 60
        while not runner.snapshot(job, user=ANN).metrics.get("train") and time.time() < deadline:
            time.sleep(0.05)
        assert runner.snapshot(job, user=ANN).status == "running"  # Bob's Stop did nothing
        runner.cancel(job, user=TEACHER)  # an instructor may stop any job
        snap = runner.wait(job, 60, user=ANN)
        assert snap.status == "killed" and snap.owner == ANN.id
        runs = tracking.search_runs(user=ANN)
        assert runs["status"].tolist() == ["KILLED"] and runs["owner"].tolist() == [ANN.id]
    finally:
        runner.close()

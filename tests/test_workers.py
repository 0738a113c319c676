"""Several sending workers at once, as separate processes, against a real SMTP server."""

from collections import Counter
from datetime import timedelta

import pytest
from processes import seed_invitations, start_flask
from sqlalchemy import func, select

from survey.extensions import db
from survey.models import Invitation, OutboxMessage, utcnow

pytestmark = pytest.mark.slow


def run_workers(app, count: int, **env: str) -> list[str]:
    """Run `surveys send-due` in `count` processes at once; their outputs."""
    processes = [start_flask(app, "surveys", "send-due", **env) for _ in range(count)]
    outputs = [process.communicate(timeout=300)[0] for process in processes]
    for process, output in zip(processes, outputs, strict=True):
        assert process.returncode == 0, output
    return outputs


def delivered_per_candidate(smtp_server) -> Counter:
    return Counter(message["To"] for message in smtp_server.messages)


def test_three_workers_at_once_send_each_of_500_invitations_exactly_once(app, recruiter, smtp_server):
    ids = seed_invitations(500, recruiter)

    outputs = run_workers(app, 3, OUTBOX_BATCH_SIZE="20")

    # The processes really ran side by side (a late starter may find the queue already empty).
    busy = [output for output in outputs if "delivered 0 email" not in output]
    assert len(busy) >= 2, outputs

    received = delivered_per_candidate(smtp_server)
    assert len(received) == 500
    assert set(received.values()) == {1}
    assert db.session.scalar(select(func.count()).select_from(OutboxMessage)) == 500
    statuses = db.session.scalars(select(Invitation.status).where(Invitation.id.in_(ids)))
    assert set(statuses) == {"sent"}


@pytest.mark.postgres
def test_a_claimed_batch_is_skipped_not_waited_for_by_another_process(app, recruiter):
    """Row locks, not luck: while one transaction holds a batch, another claims the next one."""
    from survey.outbox import claim_batch
    from survey.services.invitations import issue_due_invitations

    seed_invitations(10, recruiter)
    issue_due_invitations(utcnow())
    app.config["OUTBOX_BATCH_SIZE"] = 4
    holder = db.engine.connect()
    locked = holder.execute(
        select(OutboxMessage.id).order_by(OutboxMessage.id).limit(4).with_for_update()
    ).scalars()
    held = set(locked)

    claimed = {message.id for message in claim_batch(utcnow() + timedelta(seconds=1))}

    holder.rollback()
    holder.close()
    assert len(claimed) == 4 and not claimed & held

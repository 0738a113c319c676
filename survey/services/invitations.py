"""Survey invitations: schedule, issue, remind, expire, resend, cancel."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import lru_cache

from flask import current_app, render_template
from flask_babel import gettext
from markupsafe import escape
from sqlalchemy import Select, select
from sqlalchemy.orm import joinedload

from ..database import begin_claim
from ..extensions import db
from ..i18n import bound_gettext, candidate_locale, local_date, local_datetime
from ..mailing import reply_to_address
from ..models import (
    DELIVERED_OPEN_STATUSES,
    Candidate,
    Interview,
    Invitation,
    InvitationStatus,
    QuestionSetVersion,
    utcnow,
)
from ..questions import pick_language
from ..tokens import make_opt_out_token, make_survey_token
from .anonymity import ReleaseSummary, release_cohorts
from .errors import DomainError
from .outbox import DeliverySummary, clock_from, deliver_outbox, enqueue_rendered, enqueue_rows, outbox_row
from .question_sets import version_for_stage
from .webhooks import WebhookSummary, deliver_webhooks


class InvitationError(DomainError):
    """A change the invitation's state does not allow (answered, already gone out, unreachable)."""


def schedule_invitation(interview: Interview) -> Invitation:
    """Create the interview's invitation, due SURVEY_SEND_DELAY_MINUTES after it ends."""
    delay = timedelta(minutes=current_app.config["SURVEY_SEND_DELAY_MINUTES"])
    invitation = Invitation(
        interview=interview, send_after=interview.ends_at + delay, status=InvitationStatus.SCHEDULED
    )
    if not interview.candidate.reachable:
        invitation.opt_out()
    db.session.add(invitation)
    return invitation


def survey_url(invitation: Invitation) -> str:
    """The public link to the invitation's survey."""
    token = make_survey_token(invitation.id, invitation.version)
    return f"{current_app.config['PUBLIC_BASE_URL']}/s/{token}"


def opt_out_url(invitation: Invitation) -> str:
    """The public one-click opt-out link."""
    token = make_opt_out_token(invitation.id, invitation.version)
    return f"{current_app.config['PUBLIC_BASE_URL']}/s/{token}/opt-out"


def fix_question_set(invitation: Invitation, memo: dict | None = None) -> QuestionSetVersion:
    """The invitation's question-set version, fixed now if it was not yet: a link, once issued,
    always shows the questions it was sent with. `memo` keeps the versions (and the choice per
    stage) for one sending pass: a batch holds a write lock, so it should not ask 100 times."""
    memo = memo if memo is not None else {}
    if invitation.question_set_version_id is None:
        stage = ("stage", invitation.interview.stage.strip().lower())
        if stage not in memo:
            version = version_for_stage(invitation.interview.stage)
            memo[stage], memo[version.id] = version.id, version
        invitation.question_set_version_id = memo[stage]
    version_id = invitation.question_set_version_id
    if version_id not in memo:
        memo[version_id] = db.session.get(QuestionSetVersion, version_id)
    return memo[version_id]


def candidate_language(interview: Interview, version: QuestionSetVersion) -> str:
    """The language the candidate reads: theirs if the set speaks it, else the set's first."""
    return pick_language(interview.language, version.languages)


def first_name(name: str) -> str:
    """The name to greet a candidate by: the first word of their name."""
    return (name or "").split(" ", 1)[0] or name


def link_valid_until(invitation: Invitation, now: datetime) -> datetime:
    """Until when the emailed link works: the expiry once sent, else a full period from now."""
    return invitation.expires_at or now + timedelta(days=current_app.config["SURVEY_EXPIRES_AFTER_DAYS"])


def enqueue_survey_email(
    invitation: Invitation,
    kind: str,
    now: datetime | None = None,
    memo: dict | None = None,
    rows: list[dict] | None = None,
) -> None:
    """Write the invitation or reminder email to the outbox, in the candidate's language and zone;
    with `rows`, add its outbox row there instead, for the caller to write with others
    (outbox.enqueue_rows)."""
    now = now or utcnow()
    interview = invitation.interview
    unsubscribe = opt_out_url(invitation)
    language = candidate_language(interview, fix_question_set(invitation, memo))
    name = first_name(interview.candidate.name)
    with candidate_locale(language, interview.timezone):
        subject = (
            gettext("How was your %(stage)s interview, %(name)s?", stage=interview.stage, name=name)
            if kind == "invitation"
            else gettext(
                "Reminder: how was your %(stage)s interview, %(name)s?", stage=interview.stage, name=name
            )
        )
        values = {
            "first_name": name,
            "position_title": interview.position.title,
            "stage": interview.stage,
            "interview_when": local_datetime(interview.starts_at or interview.ends_at),
            "survey_url": survey_url(invitation),
            "opt_out_url": unsubscribe,
            "valid_until_date": local_date(link_valid_until(invitation, now)),
            "subject": subject,
        }
        company = current_app.config["COMPANY_NAME"]
        text, html = email_stencils(company, language, kind == "reminder")
        email = (
            kind,
            interview.candidate.email,
            subject,
            fill_stencil(text, values),
            fill_stencil(html, {key: str(escape(value)) for key, value in values.items()}),
        )
        headers = {
            "Reply-To": reply_to_address(),
            "List-Unsubscribe": f"<{unsubscribe}>",
            "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
            "Content-Language": language.replace("_", "-"),
        }
        if rows is None:
            enqueue_rendered(*email, invitation=invitation, headers=headers, now=now)
        else:
            rows.append(outbox_row(*email, invitation=invitation, headers=headers, now=now))


# Stand in for each email's own values in the cached stencils; no rendered text contains them.
EMAIL_VALUES = (
    "first_name",
    "position_title",
    "stage",
    "interview_when",
    "survey_url",
    "opt_out_url",
    "valid_until_date",
    "subject",
)
SLOT = re.compile("\x00(\\w+)\x00")


@lru_cache(maxsize=64)
def email_stencils(company: str, language: str, reminder: bool) -> tuple[str, str]:
    """The invitation (or reminder) email's text and HTML, rendered once per company name,
    language and kind (the caller already speaks the language), each email's own values standing
    in as slots: a batch of a thousand emails renders its templates a few times, not two
    thousand (the survey page's blank page is made the same way)."""
    context = {name: f"\x00{name}\x00" for name in EMAIL_VALUES}
    context |= {"company": company, "language": language, "is_reminder": reminder, "gettext": bound_gettext()}
    return (
        render_template("email/survey_invitation.txt", **context),
        render_template("email/survey_invitation.html", **context),
    )


def fill_stencil(stencil: str, values: dict[str, str]) -> str:
    """The stencil with each slot replaced by its value, in one pass (a value that reads like a
    slot stays as it is)."""
    return SLOT.sub(lambda slot: values[slot.group(1)], stencil)


def _batch_size() -> int:
    return current_app.config["OUTBOX_BATCH_SIZE"]


# What writing an invitation email reads, loaded with the claimed batch in the same query
# (inner joins: every invitation has an interview, candidate and position) instead of three
# lazy loads per email. Only the invitations are locked (FOR UPDATE OF invitations).
_EMAIL_NEEDS = (
    joinedload(Invitation.interview, innerjoin=True).joinedload(Interview.candidate, innerjoin=True),
    joinedload(Invitation.interview, innerjoin=True).joinedload(Interview.position, innerjoin=True),
)


def issue_due_invitations(now: datetime) -> dict[str, int]:
    """Write due invitations to the outbox; ones too old to be useful expire instead."""
    counts = {"issued": 0, "expired": 0, "opted_out": 0}
    expiry = timedelta(days=current_app.config["SURVEY_EXPIRES_AFTER_DAYS"])
    due = (
        select(Invitation)
        .where(
            Invitation.status == InvitationStatus.SCHEDULED,
            Invitation.issued_at.is_(None),
            Invitation.send_after <= now,
        )
        .order_by(Invitation.send_after, Invitation.id)
        .options(*_EMAIL_NEEDS)
    )
    memo: dict = {}
    for batch in _claimed_batches(due):
        emails: list[dict] = []
        for invitation in batch:
            counts[_issue_one(invitation, now, expiry, memo, emails)] += 1
        enqueue_rows(emails)  # the batch's emails in one INSERT, committed with the batch
    return counts


def _claimed_batches(stmt: Select) -> Iterator[list[Invitation]]:
    """Batches of invitations locked for this process (SKIP LOCKED: other workers take other rows).

    What the caller changes in a batch is committed before the next one is claimed; a batch
    left alone by the query (its rows no longer match) ends the loop.
    """
    claim = stmt.limit(_batch_size()).with_for_update(skip_locked=True, of=Invitation)
    while True:
        begin_claim(db.session)
        batch = list(db.session.scalars(claim))
        if not batch:
            db.session.rollback()  # release SQLite's write lock taken by begin_claim
            return
        yield batch
        db.session.commit()


def _issue_one(
    invitation: Invitation, now: datetime, expiry: timedelta, memo: dict, emails: list[dict]
) -> str:
    if not invitation.interview.candidate.reachable:
        invitation.opt_out()
        return "opted_out"
    if invitation.send_after + expiry <= now:
        invitation.expire(invitation.send_after + expiry)
        return "expired"
    invitation.issue(now)
    enqueue_survey_email(invitation, "invitation", now, memo, emails)
    return "issued"


def queue_reminders(now: datetime) -> int:
    """Write one reminder for each survey not completed SURVEY_REMINDER_AFTER_HOURS after sending."""
    cutoff = now - timedelta(hours=current_app.config["SURVEY_REMINDER_AFTER_HOURS"])
    unreminded = (
        select(Invitation)
        .join(Invitation.interview)
        .join(Interview.candidate)
        .where(
            Invitation.status.in_(DELIVERED_OPEN_STATUSES),
            Invitation.reminder_issued_at.is_(None),
            Invitation.sent_at <= cutoff,
            Invitation.expires_at > now,
            Candidate.opted_out_at.is_(None),
            Candidate.bounced_at.is_(None),
        )
        .order_by(Invitation.id)
        .options(*_EMAIL_NEEDS)
    )
    queued = 0
    for batch in _claimed_batches(unreminded):
        emails: list[dict] = []
        for invitation in batch:
            invitation.issue_reminder(now)
            enqueue_survey_email(invitation, "reminder", now, rows=emails)
        enqueue_rows(emails)
        queued += len(batch)
    return queued


def expire_overdue(now: datetime) -> int:
    """Mark open invitations whose link has run out as expired."""
    result = db.session.execute(Invitation.expiring(now))
    db.session.commit()
    return result.rowcount or 0


@dataclass
class SendDueSummary:
    """The counts `surveys send-due` prints."""

    issued: int
    reminders: int
    expired: int
    opted_out: int
    delivery: DeliverySummary
    release: ReleaseSummary = field(default_factory=ReleaseSummary)
    webhooks: WebhookSummary = field(default_factory=WebhookSummary)

    @property
    def did_something(self) -> bool:
        """Whether the pass changed or sent anything (or failed to)."""
        d = self.delivery
        changes = (self.issued, self.reminders, self.expired, self.opted_out)
        outcomes = (d.sent, d.retrying, d.dead, d.skipped, d.taken_over)
        changes += (self.release.released, self.release.unreadable)
        mail = any(outcomes) or d.smtp_error is not None
        return any(changes) or mail or self.webhooks.did_something

    def line(self) -> str:
        """One human line of counts."""
        text = (
            f"issued {self.issued} invitation(s), queued {self.reminders} reminder(s), "
            f"expired {self.expired}, skipped {self.opted_out} opted-out; "
            f"delivered {self.delivery.sent} email(s), {self.delivery.retrying} to retry, "
            f"{self.delivery.dead} given up, {self.delivery.skipped} no longer needed"
        )
        if self.delivery.taken_over:
            text += f"; {self.delivery.taken_over} left to another worker (lease ran out)"
        text += "; " + self.release.line()
        hooks = self.webhooks
        if hooks.did_something:
            text += f"; webhooks: {hooks.delivered} delivered, {hooks.retrying} to retry, {hooks.dead} dead"
        if self.delivery.smtp_error:
            text += f"; SMTP unavailable: {self.delivery.smtp_error}"
        return text


def send_due(now: datetime | None = None) -> SendDueSummary:
    """One pass of the sending job: issue, remind, expire, release anonymous cohorts whose month
    has closed, then deliver the outbox and the webhooks.

    Each step reads the clock when it starts, and delivery at every claim and send: a long
    pass must not lease or date anything with the moment it began.
    `now` pretends the pass starts at that moment (time still runs on from there).
    Webhooks go out even when SMTP is down: the two queues do not wait for each other.
    """
    clock = clock_from(now)
    issued = issue_due_invitations(clock())
    reminders = queue_reminders(clock())
    expired = expire_overdue(clock())
    release = release_cohorts(clock())
    delivery = deliver_outbox(clock)
    webhooks = deliver_webhooks(clock())
    return SendDueSummary(
        issued=issued["issued"],
        reminders=reminders,
        expired=expired + issued["expired"],
        opted_out=issued["opted_out"],
        delivery=delivery,
        release=release,
        webhooks=webhooks,
    )


def load_invitation(invitation_id: int) -> Invitation | None:
    """An invitation with its interview, candidate and position loaded."""
    stmt = (
        select(Invitation)
        .where(Invitation.id == invitation_id)
        .options(
            joinedload(Invitation.interview).joinedload(Interview.candidate),
            joinedload(Invitation.interview).joinedload(Interview.position),
        )
    )
    return db.session.scalar(stmt)


def resend_invitation(invitation: Invitation, send_after: datetime | None = None) -> Invitation:
    """Issue a new link (new version): every earlier link stops working."""
    if invitation.answered:
        raise InvitationError("This survey has already been answered.")
    invitation.reissue(send_after or utcnow())
    db.session.commit()
    return invitation


def cancel_invitation(invitation: Invitation) -> Invitation:
    """Stop the survey: nothing more is sent and its link stops working."""
    if invitation.answered:
        raise InvitationError("This survey has already been answered.")
    invitation.cancel(utcnow())
    # The ATS pages through changes by updated_at: a cancellation made here is one of them.
    invitation.interview.updated_at = invitation.cancelled_at
    db.session.commit()
    return invitation


def reschedule_invitation(invitation: Invitation, send_after: datetime) -> Invitation:
    """Change when a not-yet-sent invitation goes out."""
    if not invitation.awaiting_issue:
        raise InvitationError("This survey has already gone out; resend it to issue a new link.")
    invitation.send_after = send_after
    db.session.commit()
    return invitation


def resend_for_owner(invitation: Invitation) -> Invitation:
    """Resend now, unless the candidate asked us to stop or their address bounced."""
    if not invitation.interview.candidate.reachable:
        raise InvitationError("The candidate opted out or their address bounced; nothing more can be sent.")
    return resend_invitation(invitation)

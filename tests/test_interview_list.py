"""Finding an interview: search, sortable columns, recruiter/department/date filters, page size in the URL."""

import re

from helpers import sign_in, table_rows, utc
from survey.extensions import db
from survey.models import User
from survey.services.accounts import set_timezone


def names_in_order(html: str) -> list[str]:
    return [cells[0] for _, cells in table_rows(html, "table")[1:]]


def seed(make_interview, staff):
    """Five interviews for the owner and one for another recruiter."""
    people = [
        ("Wendy Ashford", "wendy@example.org", "Customer Success Manager", "Support", "Technical", 3),
        ("Zed Brown", "zed@example.org", "Backend Engineer", "Engineering", "Onsite", 1),
        ("Amy Chen", "amy.c@example.org", "Designer", "Design", "Phone screen", 5),
        ("Bob Wendell", "bob@example.org", "Backend Engineer", "Engineering", "Technical", 2),
        ("Carl Diaz", "carl@example.org", "Data Analyst", "Engineering", "Onsite", 4),
    ]
    for number, (name, email, title, department, stage, day) in enumerate(people, start=1):
        make_interview(
            candidate={"name": name, "email": email, "external_id": f"GH-{number}00"},
            position={"title": title, "department": department, "location": "Berlin"},
            stage=stage,
            starts_at=None,
            ends_at=utc(2026, 10, day, 12).isoformat(),
            external_id=f"int-{number}",
        )
    make_interview(
        candidate={"name": "Olga Other", "email": "olga@example.org"},
        recruiter_email=staff["other"].email,
        starts_at=None,
        ends_at=utc(2026, 10, 6, 12).isoformat(),
    )


def test_recruiter_finds_an_interview_by_part_of_a_name_email_position_or_external_id(
    client, staff, make_interview
):
    seed(make_interview, staff)
    sign_in(client, staff["owner"].email)
    assert names_in_order(client.get("/interviews?q=wend").get_data(as_text=True)) == [
        "Wendy Ashford",
        "Bob Wendell",
    ]
    assert names_in_order(client.get("/interviews?q=AMY.C@").get_data(as_text=True)) == ["Amy Chen"]
    assert names_in_order(client.get("/interviews?q=success").get_data(as_text=True)) == ["Wendy Ashford"]
    assert names_in_order(client.get("/interviews?q=gh-400").get_data(as_text=True)) == ["Bob Wendell"]
    assert names_in_order(client.get("/interviews?q=int-5").get_data(as_text=True)) == ["Carl Diaz"]
    # Another recruiter's interview is not found, and LIKE wildcards are taken literally.
    assert names_in_order(client.get("/interviews?q=olga").get_data(as_text=True)) == []
    assert names_in_order(client.get("/interviews?q=%25").get_data(as_text=True)) == []
    page = client.get("/interviews?q=wend").get_data(as_text=True)
    assert 'value="wend"' in page


def test_columns_sort_both_ways_and_keep_the_search(client, staff, make_interview):
    seed(make_interview, staff)
    sign_in(client, staff["owner"].email)
    by_name = names_in_order(client.get("/interviews?sort=candidate&direction=asc").get_data(as_text=True))
    assert by_name == ["Amy Chen", "Bob Wendell", "Carl Diaz", "Wendy Ashford", "Zed Brown"]
    html = client.get("/interviews?sort=date&direction=asc&q=e").get_data(as_text=True)
    assert names_in_order(html)[0] == "Zed Brown"
    assert 'aria-sort="ascending"' in html
    # The header link reverses the order and keeps the search.
    link = re.search(r'<a href="([^"]*sort=date[^"]*)">Date', html).group(1).replace("&amp;", "&")
    assert "direction=desc" in link and "q=e" in link
    by_stage = names_in_order(client.get("/interviews?sort=stage&direction=desc").get_data(as_text=True))
    # Technical, Phone screen, Onsite; within a stage the later-added interview first.
    assert by_stage == ["Bob Wendell", "Wendy Ashford", "Amy Chen", "Carl Diaz", "Zed Brown"]


def test_hr_filters_by_recruiter_department_and_dates_and_sees_the_recruiter_column(
    client, staff, make_interview
):
    seed(make_interview, staff)
    sign_in(client, staff["hr"].email)
    everything = client.get("/interviews").get_data(as_text=True)
    header = table_rows(everything, "table")[0][1]
    assert "Recruiter" in " ".join(header)
    assert "Oscar Other" in everything
    other = client.get(f"/interviews?recruiter={staff['other'].id}").get_data(as_text=True)
    assert names_in_order(other) == ["Olga Other"]
    assert f'<option selected value="{staff["other"].id}">' in other
    engineering = client.get("/interviews?department=Engineering&sort=candidate&direction=asc")
    assert names_in_order(engineering.get_data(as_text=True)) == [
        "Bob Wendell",
        "Carl Diaz",
        "Olga Other",
        "Zed Brown",
    ]
    dated = client.get("/interviews?date_from=2026-10-02&date_to=2026-10-04&sort=date&direction=asc")
    assert names_in_order(dated.get_data(as_text=True)) == ["Bob Wendell", "Wendy Ashford", "Carl Diaz"]
    bad = client.get("/interviews?date_from=soon")
    assert bad.status_code == 200 and "could not be read" in bad.get_data(as_text=True)
    edges = client.get("/interviews?date_from=0001-01-01&date_to=9999-12-31")
    assert edges.status_code == 200 and len(names_in_order(edges.get_data(as_text=True))) == 6


def test_recruiters_get_no_recruiter_filter_and_cannot_use_it_to_see_others(client, staff, make_interview):
    seed(make_interview, staff)
    sign_in(client, staff["owner"].email)
    html = client.get(f"/interviews?recruiter={staff['other'].id}").get_data(as_text=True)
    assert 'name="recruiter"' not in html
    assert "Olga Other" not in html


def test_page_size_is_kept_in_the_url_and_unknown_sizes_fall_back(client, staff, make_interview):
    for day in range(1, 31):
        make_interview(starts_at=None, ends_at=utc(2026, 10, day, 12).isoformat())
    sign_in(client, staff["owner"].email)
    fifty = client.get("/interviews?per_page=50").get_data(as_text=True)
    assert len(names_in_order(fifty)) == 30
    assert '<option selected value="50">' in fifty
    assert len(names_in_order(client.get("/interviews?per_page=100000").get_data(as_text=True))) == 25
    second = client.get("/interviews?per_page=25&sort=date").get_data(as_text=True)
    assert "per_page=25" in re.search(r'href="([^"]*page=2[^"]*)"', second).group(1)


def test_the_list_marks_the_chosen_filter_options_selected(client, staff, make_interview):
    seed(make_interview, staff)
    sign_in(client, staff["owner"].email)
    blank = client.get("/interviews").get_data(as_text=True)
    assert blank.count('<option selected value="">Any</option>') >= 4
    onsite = client.get("/interviews?stage=Onsite").get_data(as_text=True)
    assert '<option selected value="Onsite">Onsite</option>' in onsite


def test_a_user_in_berlin_sees_berlin_dates_and_the_zone_named(client, staff, make_interview):
    # 23:30 UTC on 1 October is already 2 October in Berlin.
    make_interview(starts_at=None, ends_at="2026-10-01T23:30:00Z")
    set_timezone(db.session.get(User, staff["owner"].id), "Europe/Berlin")
    sign_in(client, staff["owner"].email)
    html = client.get("/interviews").get_data(as_text=True)
    assert "2 October 2026" in html and "dates in Europe/Berlin" in html
    assert 'datetime="2026-10-01T23:30:00+00:00"' in html

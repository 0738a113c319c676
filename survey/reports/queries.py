"""Every aggregate of the HR reports, computed in SQL.

Answers are read from report_tallies (how many gave each value of each item, per combination of
grouping attributes) and response counts from report_cells, so a figure is a sum over a few
thousand rows whatever the number of responses; n, sum and sum of squares of an item follow from
its counts per value. Gaps and free text need the individual responses and are grouped in SQL
over them.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import (
    BigInteger,
    cast,
    func,
    select,
)

from ..extensions import db
from ..models import (
    GAP_FACT_KINDS,
    GROUP_KEYS,
    IMPROVE_TEXT,
    ISSUES_TEXT,
    Interview,
    Position,
    QuestionSet,
    QuestionSetVersion,
    User,
    report_cells,
    report_group_tallies,
    report_month_tallies,
    report_tallies,
)
from ..questions import DETRACTOR_MAX, GAP_THRESHOLD, NUMERIC_TYPES, PROMOTER_MIN, SCALE_PAIRS, SCALE_VALUES
from . import fact_sums
from .filters import ReportFilters, month_words
from .stats import Summary, nps_interval, nps_score

CELLS = report_cells.c
TALLIES = report_tallies.c
GROUP_TALLIES = report_group_tallies.c
MONTH_TALLIES = report_month_tallies.c

if TYPE_CHECKING:  # numpy is imported where arrays are made: only a reports page needs it
    import numpy as np


def _over_all_months(filters: ReportFilters) -> bool:
    """Whether a view spans every month: the tallies rolled up over months then answer it."""
    return not (filters.month_from or filters.month_to)


def _only_months(filters: ReportFilters) -> bool:
    """Whether a view is restricted by months alone: the tallies per month then answer it."""
    return all(name in ("month_from", "month_to") for name in filters.active())


@dataclass(frozen=True)
class ReportItem:
    """An item as reports show it: every version's answers to its key, pooled."""

    key: str
    kind: str
    text: str
    values: tuple[Any, ...]
    # For a choice item: each option's text (newest version's wording).
    option_texts: tuple[tuple[str, str], ...] = ()
    # For a numeric item: its end labels, or one per value.
    labels: tuple[str, ...] = ()

    def prompt(self, company: str) -> str:
        """The question text with the company's name filled in."""
        return self.text.replace("{company}", company)

    def label_for(self, value: Any) -> str:
        """The words for one answer value (an option's text, a scale point's label), if any."""
        if not self.numeric:
            return dict(self.option_texts).get(value, "")
        if len(self.labels) == len(self.values):
            return self.labels[self.values.index(value)]
        if len(self.labels) == 2 and value in (self.values[0], self.values[-1]):
            return self.labels[0] if value == self.values[0] else self.labels[1]
        return ""

    @property
    def numeric(self) -> bool:
        """Whether the item has a mean (nps and 1–5 scales)."""
        return self.kind in NUMERIC_TYPES

    def parse(self, value: str) -> Any:
        """A tallied value (stored as text) as the answer it was."""
        return int(value) if self.numeric else value


def _report_language(languages: list[str]) -> str:
    return "en" if "en" in languages else languages[0]


def report_items(include_text: bool = False) -> tuple[ReportItem, ...]:
    """Every item of every published version: the default set's first, then in order of
    publication; a key's wording is its newest version's (staff read English where there is one)."""
    statement = (
        select(QuestionSetVersion.document)
        .join(QuestionSetVersion.question_set)
        .where(QuestionSetVersion.status == "published")
        .order_by(QuestionSet.is_default.desc(), QuestionSetVersion.id)
    )
    items: dict[str, ReportItem] = {}
    for document in db.session.scalars(statement):
        language = _report_language(document["languages"])
        for item in document["questions"]:
            if item["type"] == "text" and not include_text:
                continue
            known = items.get(item["key"])
            options = tuple((o["value"], o["text"][language]) for o in item.get("options", ()))
            values = tuple(SCALE_VALUES.get(item["type"], ()))
            if item["type"] == "choice":
                earlier = known.values if known else ()
                values = earlier + tuple(value for value, _ in options if value not in earlier)
                options = tuple(dict((*(known.option_texts if known else ()), *options)).items())
            labels = tuple(item.get("labels", {}).get(language, ()))
            items[item["key"]] = ReportItem(
                item["key"], item["type"], item["text"][language], values, options, labels
            )
    return tuple(items.values())


@dataclass(frozen=True)
class Dimension:
    """A grouping attribute reports break figures down by."""

    name: str
    label: str
    key: str  # column in report_cells and responses
    title: str  # column holding the group's name (the key itself unless it is an id)


DIMENSIONS = (
    Dimension("stage", "Stage", "stage", "stage"),
    Dimension("department", "Department", "department", "department"),
    Dimension("position", "Position", "position_id", "position_title"),
    Dimension("hiring_manager", "Hiring manager", "hiring_manager", "hiring_manager"),
    Dimension("recruiter", "Recruiter", "recruiter_id", "recruiter_id"),
)
MONTH = Dimension("month", "Month", "month", "month")
DIMENSIONS_BY_NAME = {dimension.name: dimension for dimension in (*DIMENSIONS, MONTH)}


@dataclass
class GroupFigures:
    """The figures of one group (or of everything, for the headline)."""

    key: Any
    label: str
    responses: int
    items: dict[str, Summary]
    promoters: int = 0
    detractors: int = 0
    hidden: bool = False
    hidden_items: set[str] = field(default_factory=set)
    # How many gave each value of each item (choice items' only figures).
    counts: dict[str, dict[Any, int]] = field(default_factory=dict)

    @property
    def nps_answers(self) -> int:
        """How many answered the recommendation item."""
        return self.items["nps"].n if "nps" in self.items else 0

    @property
    def nps(self) -> float | None:
        """cNPS of the group."""
        return nps_score(self.promoters, self.detractors, self.nps_answers)

    @property
    def nps_interval(self) -> tuple[float, float] | None:
        """95% interval of the group's cNPS."""
        return nps_interval(self.promoters, self.detractors, self.nps_answers)

    def share(self, count: int) -> float | None:
        """A count as a percentage of the recommendation answers."""
        return 100 * count / self.nps_answers if self.nps_answers else None

    @property
    def passives(self) -> int:
        """Answers of 7 or 8."""
        return self.nps_answers - self.promoters - self.detractors

    def answered(self, key: str) -> int:
        """How many answered an item."""
        return sum(self.counts.get(key, {}).values())


def summary_of(by_value: dict[int, int]) -> Summary:
    """n, sum and sum of squares of a numeric item from its counts per value."""
    return Summary(
        sum(by_value.values()),
        sum(value * n for value, n in by_value.items()),
        sum(value * value * n for value, n in by_value.items()),
    )


def figures_from_counts(
    key: Any, label: str, responses: int, tallies: dict[str, dict[str, int]], items: tuple[ReportItem, ...]
) -> GroupFigures:
    """A group's figures from its counts per item and value (values as tallied, i.e. text)."""
    counts: dict[str, dict[Any, int]] = {}
    for item in items:
        given = tallies.get(item.key, {})
        counts[item.key] = {value: given.get(str(value), 0) for value in item.values}
    return _figures(key, label, responses, counts, items)


def _figures(
    key: Any, label: str, responses: int, counts: dict[str, dict[Any, int]], items: tuple[ReportItem, ...]
) -> GroupFigures:
    """A group's figures from how many gave each value of each item (every value of every item)."""
    summaries = {item.key: summary_of(counts[item.key]) for item in items if item.numeric}
    nps = counts.get("nps", {})
    return GroupFigures(
        key,
        label,
        responses,
        summaries,
        promoters=sum(n for value, n in nps.items() if value >= PROMOTER_MIN),
        detractors=sum(n for value, n in nps.items() if value <= DETRACTOR_MAX),
        counts=counts,
    )


def overall(
    filters: ReportFilters, items: tuple[ReportItem, ...] | None = None
) -> tuple[GroupFigures, dict[str, dict[Any, int]]]:
    """Headline figures of every response the filters select, and how many gave each answer value."""
    items = items if items is not None else report_items()
    if _only_months(filters):
        source = MONTH_TALLIES
    elif _over_all_months(filters):
        source = GROUP_TALLIES
    else:
        source = None
    if source is not None:
        statement = (
            select(source.item, source.value, func.sum(source["count"]))
            .where(*filters.on_columns(source))
            .group_by(source.item, source.value)
        )
        return _overall_figures(filters, items, statement)
    # Summed per month first: that grouping reads the month index in order (no sort of every row).
    by_month = (
        select(TALLIES.month, TALLIES.item, TALLIES.value, func.sum(TALLIES["count"]).label("n"))
        .where(*filters.on_columns(TALLIES))
        .group_by(TALLIES.month, TALLIES.item, TALLIES.value)
        .subquery()
    )
    statement = select(by_month.c.item, by_month.c.value, func.sum(by_month.c.n)).group_by(
        by_month.c.item, by_month.c.value
    )
    return _overall_figures(filters, items, statement)


def _overall_figures(
    filters: ReportFilters, items: tuple[ReportItem, ...], statement: Any
) -> tuple[GroupFigures, dict[str, dict[Any, int]]]:
    tallies: dict[str, dict[str, int]] = defaultdict(dict)
    for item, value, count in db.session.execute(statement):
        tallies[item][value] = int(count)
    figures = figures_from_counts(None, "All responses", counts_by(filters, None)[None], tallies, items)
    return figures, figures.counts


# What tells the cells apart: the grouping attributes other than the month and the position's title
# (the position's id tells positions apart; a renamed position's two titles are one cell here).
CELL_ATTRIBUTES = tuple(key for key in GROUP_KEYS if key != "position_title")


@dataclass
class CellCounts:
    """How many gave each answer value, per combination of grouping attributes (months summed).

    `cells[i]` holds the grouping attributes of row i; `counts[item]` is a cells × values matrix
    over the item's values in order. This is everything the findings and the breakdowns read from
    the tallies: how tallies are stored stays here.
    """

    cells: list[dict[str, Any]]
    counts: dict[str, np.ndarray]
    # Every item's matrix side by side (`counts` holds views of it): one sum per grouping.
    table: np.ndarray | None = None

    def numeric(self, items: tuple[ReportItem, ...]) -> CellCounts:
        """The same cells with the numeric items' counts only (what a rank test can read)."""
        keys = {item.key for item in items if item.numeric}
        return CellCounts(self.cells, {key: m for key, m in self.counts.items() if key in keys})


def cell_counts(filters: ReportFilters, items: tuple[ReportItem, ...]) -> CellCounts:
    """Per-value answer counts of the numeric `items` in every cell the filters select, summed over
    months (every version's answers to a key pooled)."""
    return cell_tallies(filters, tuple(item for item in items if item.numeric))


def cell_tallies(filters: ReportFilters, items: tuple[ReportItem, ...]) -> CellCounts:
    """Per-value answer counts of `items` in every cell (combination of the grouping attributes
    other than the month) the filters select, summed over months, in one query over the tallies.

    Without a month filter the tallies rolled up over months hold exactly these rows, one per cell,
    item and value, so they are read as stored: no grouping to sort. One read serves the findings
    (their rank tests) and every breakdown but the month's (`by_groups` adds up its rows per group).
    """
    import numpy as np

    if _over_all_months(filters):
        keys = [GROUP_TALLIES[key] for key in CELL_ATTRIBUTES]
        statement = select(*keys, GROUP_TALLIES.item, GROUP_TALLIES.value, GROUP_TALLIES["count"]).where(
            *filters.on_columns(GROUP_TALLIES)
        )
    else:
        keys = [TALLIES[key] for key in CELL_ATTRIBUTES]
        statement = (
            # Cast: PostgreSQL sums integers to bigint/numeric; keep plain integers on every database.
            select(*keys, TALLIES.item, TALLIES.value, cast(func.sum(TALLIES["count"]), BigInteger))
            .where(*filters.on_columns(TALLIES))
            .group_by(*keys, TALLIES.item, TALLIES.value)
        )
    # Where each tallied (item, value text) goes in a row of the table: looked up once per row,
    # not parsed per row.
    offsets, slots, width = {}, {}, 0
    for item in items:
        offsets[item.key] = width
        for position, value in enumerate(item.values):
            slots[(item.key, str(value))] = width + position
        width += len(item.values)
    size = len(keys)
    cell_index: dict[tuple, int] = {}
    rows, columns, numbers = [], [], []
    for row in db.session.execute(statement):
        column = slots.get((row[size], row[size + 1]))
        if column is not None:
            rows.append(cell_index.setdefault(tuple(row[:size]), len(cell_index)))
            columns.append(column)
            numbers.append(row[-1] or 0)
    table = np.zeros((len(cell_index), width), dtype=np.int64)
    np.add.at(table, (np.array(rows, dtype=np.intp), np.array(columns, dtype=np.intp)), numbers)
    cells = [dict(zip(CELL_ATTRIBUTES, attributes, strict=True)) for attributes in cell_index]
    counts = {item.key: table[:, offsets[item.key] : offsets[item.key] + len(item.values)] for item in items}
    return CellCounts(cells, counts, table)


def _responses_by_cell(filters: ReportFilters) -> list[Any]:
    """(grouping attributes other than the month..., responses) of the cells the filters select,
    summed over months: what each breakdown but the month's adds up per group."""
    keys = [CELLS[key] for key in GROUP_KEYS]
    statement = (
        select(*keys, cast(func.sum(CELLS.responses), BigInteger))
        .where(*filters.on_columns(CELLS))
        .group_by(*keys)
    )
    return db.session.execute(statement).all()


def _by_month(filters: ReportFilters, items: tuple[ReportItem, ...]) -> list[GroupFigures]:
    """Figures per month: responses from the cells, answers from the tallies (their key starts
    with the month, or the tallies per month when only months are filtered)."""
    responses = counts_by(filters, MONTH)
    source = MONTH_TALLIES if _only_months(filters) else TALLIES
    month = source.month
    if source is TALLIES and _over_all_months(filters) and db.session.get_bind().dialect.name == "sqlite":
        # Filtered by other attributes over every month, SQLite would walk the month index in
        # order and look up each of its rows in the table (35 ms at 100,000 interviews); grouped
        # by an expression it reads the table once and sorts the few rows that match (14 ms).
        month = (source.month + "").label("month")
    statement = (
        select(month, source.item, source.value, cast(func.sum(source["count"]), BigInteger))
        .where(*filters.on_columns(source))
        .group_by(month, source.item, source.value)
    )
    tallies: dict[str, dict[str, dict[str, int]]] = defaultdict(lambda: defaultdict(dict))
    for month, item, value, n in db.session.execute(statement):
        tallies[month][item][value] = int(n)
    figures = [
        figures_from_counts(month, month_words(month), int(n or 0), tallies.get(month, {}), items)
        for month, n in responses.items()
    ]
    return sorted(figures, key=lambda group: group.key)


def _by_dimension(
    dimension: Dimension,
    responses: list[Any],
    cells: CellCounts,
    items: tuple[ReportItem, ...],
    names: dict[int, str],
) -> list[GroupFigures]:
    """Figures per group of one dimension other than the month: the cells' responses and answer
    counts added up per group (a group is one with responses; answers follow the cells)."""
    import numpy as np

    column = GROUP_KEYS.index(dimension.key)
    title_column = GROUP_KEYS.index(dimension.title)
    totals: dict[Any, int] = {}
    titles: dict[Any, Any] = {}
    for row in responses:
        key = row[column]
        totals[key] = totals.get(key, 0) + int(row[-1] or 0)
        titles[key] = max(titles[key], row[title_column]) if key in titles else row[title_column]
    index = {key: position for position, key in enumerate(totals)}
    table = cells.table
    summed = np.zeros((len(index), table.shape[1]), dtype=np.int64)
    wanted = [
        (i, index[cell[dimension.key]]) for i, cell in enumerate(cells.cells) if cell[dimension.key] in index
    ]
    if wanted:
        rows, groups = (np.array(part, dtype=np.intp) for part in zip(*wanted, strict=True))
        np.add.at(summed, groups, table[rows])
    counted = summed.tolist()
    figures = []
    for key, position in index.items():
        label = _label(dimension, key, titles[key], names)
        figures.append(_figures(key, label, totals[key], _counts_of(counted[position], items), items))
    figures.sort(key=lambda group: (-group.responses, group.label))
    return figures


def _counts_of(row: list[int], items: tuple[ReportItem, ...]) -> dict[str, dict[Any, int]]:
    """One row of a tallies table (every item's values side by side) as counts per item and value."""
    counts, start = {}, 0
    for item in items:
        width = len(item.values)
        counts[item.key] = dict(zip(item.values, row[start : start + width], strict=True))
        start += width
    return counts


def by_groups(
    filters: ReportFilters,
    dimensions: tuple[Dimension, ...],
    items: tuple[ReportItem, ...] | None = None,
    cells: CellCounts | None = None,
) -> dict[str, list[GroupFigures]]:
    """Figures per group of each dimension; largest groups first, months in order.

    `cells` are the counts per cell of every item (`cell_tallies`), read once for the findings
    too; the breakdowns other than the month's are sums of them.
    """
    items = items if items is not None else report_items()
    result: dict[str, list[GroupFigures]] = {}
    others = [dimension for dimension in dimensions if dimension.key != MONTH.key]
    if others:
        # The table's columns are the items' values in order: counts read for other items are read again.
        if cells is None or cells.table is None or list(cells.counts) != [item.key for item in items]:
            cells = cell_tallies(filters, items)
        responses = _responses_by_cell(filters)
        names = recruiter_names()
    for dimension in dimensions:
        if dimension.key == MONTH.key:
            result[dimension.name] = _by_month(filters, items)
        else:
            result[dimension.name] = _by_dimension(dimension, responses, cells, items, names)
    return result


def _label(dimension: Dimension, key: Any, title: Any, names: dict[int, str]) -> str:
    if dimension.name == "recruiter":
        return names.get(key, "(no recruiter)")
    if dimension.name == MONTH.name:
        return month_words(key)
    return str(title) if title not in (None, "") else "(not set)"


def counts_by(filters: ReportFilters, dimension: Dimension | None) -> dict[Any, int]:
    """Responses per group (or in total, keyed None): what suppression is decided on."""
    if dimension is None:
        total = db.session.scalar(select(func.sum(CELLS.responses)).where(*filters.on_columns(CELLS)))
        return {None: total or 0}
    key = CELLS[dimension.key]
    statement = select(key, func.sum(CELLS.responses)).where(*filters.on_columns(CELLS)).group_by(key)
    return {group: n for group, n in db.session.execute(statement)}


def _scoped_to_interviews(statement: Any, filters: ReportFilters) -> Any:
    """Restrict a statement to the interviews the filters select, joining only what they need."""
    conditions = filters.on_interviews()
    if not conditions:
        return statement
    if filters.department is not None:
        statement = statement.join(Position, Position.id == Interview.position_id)
    return statement.where(*conditions)


def invitations_sent(filters: ReportFilters) -> int:
    """Invitations emailed for the interviews the filters select (from the report facts)."""
    return sum(row[-1] for row in fact_sums.fact_rows(filters, ("sent",)))


def recruiter_names() -> dict[int, str]:
    """Staff names by id, for labels."""
    return dict(db.session.execute(select(User.id, User.name)).all())


def filter_options() -> dict[str, list[tuple[Any, str]]]:
    """The values each filter can take, from the data (one small query per attribute)."""
    options: dict[str, list[tuple[Any, str]]] = {}
    for name, column, title in (
        ("department", CELLS.department, CELLS.department),
        ("position_id", CELLS.position_id, CELLS.position_title),
        ("stage", CELLS.stage, CELLS.stage),
        ("hiring_manager", CELLS.hiring_manager, CELLS.hiring_manager),
    ):
        rows = db.session.execute(select(column, func.max(title)).group_by(column).order_by(func.max(title)))
        options[name] = [(value, label) for value, label in rows if value not in ("", 0)]
    ids = db.session.scalars(select(CELLS.recruiter_id).distinct()).all()
    names = recruiter_names()
    options["recruiter_id"] = sorted(((i, names[i]) for i in ids if i in names), key=lambda pair: pair[1])
    months = db.session.scalars(select(CELLS.month).distinct().order_by(CELLS.month)).all()
    options["month"] = [(month, month) for month in months]
    return options


# --- Perception gaps: candidate minus recruiter, over named responses with a debrief ----------


@dataclass
class GapFigures:
    """The perception gaps of one group: a Summary of the difference per mirrored scale pair."""

    key: Any
    label: str
    pairs: int
    gaps: dict[str, Summary]
    flagged: dict[str, int]
    next_step_checked: int
    next_step_mismatches: int
    # DESIGN's other rule pairs: doubts cleared vs role clarity, referral potential vs nps.
    doubts_checked: int
    doubts_mismatches: int
    referral_checked: int
    referral_mismatches: int
    hidden: bool = False
    lower: dict[str, int] = field(default_factory=dict)  # pairs with the candidate below the recruiter
    higher: dict[str, int] = field(default_factory=dict)


GAP_GROUPINGS = ("stage", "recruiter")


def gaps_by_group(filters: ReportFilters) -> dict[str, list[GapFigures]]:
    """Mean candidate-minus-recruiter difference per mirrored pair, by stage and by recruiter,
    from the perception-gap facts (each pair's differences counted per value)."""
    names = recruiter_names()
    # One read grouped by both (a few hundred rows), split here: half the scans of the facts.
    scopes = fact_sums.SCOPES
    facts = fact_sums.fact_rows(filters, GAP_FACT_KINDS, scopes.stage, scopes.recruiter_id)
    result: dict[str, list[GapFigures]] = {}
    for position, grouping in enumerate(GAP_GROUPINGS):
        counted: dict[Any, list[Any]] = defaultdict(list)
        for row in facts:
            counted[row[position]].append(row[2:])
        groups = []
        for key, rows in counted.items():
            if grouping == "recruiter":
                key = key or None  # a response without a recruiter is scoped as recruiter 0
                label = names.get(key, "(no recruiter)")
            else:
                label = key or "(not set)"
            groups.append(_gap_figures(key, label, rows))
        groups.sort(key=lambda group: (-group.pairs, group.label))
        result[grouping] = groups
    return result


def _gap_figures(key: Any, label: str, rows: list[Any]) -> GapFigures:
    """One group's gap figures from its facts: n, sum, sum of squares, flagged and signs of each
    pair's differences, and what each rule pair judged and flagged."""
    pairs = 0
    differences: dict[str, Counter[int]] = {pair.survey_key: Counter() for pair in SCALE_PAIRS}
    rules: Counter[tuple[str, str]] = Counter()
    for kind, item, label_, value, n in rows:
        if kind == "gap_pairs":
            pairs += n
        elif kind == "gap" and item in differences:
            differences[item][int(value)] += n
        elif kind == "gap_rule":
            rules[(item, label_)] += n

    def share(keep: Any) -> dict[str, int]:
        return {k: sum(n for gap, n in d.items() if keep(gap)) for k, d in differences.items()}

    gaps = {}
    for item, by_gap in differences.items():
        gaps[item] = Summary(
            sum(by_gap.values()),
            sum(gap * n for gap, n in by_gap.items()),
            sum(gap * gap * n for gap, n in by_gap.items()),
        )
    return GapFigures(
        key=key,
        label=label,
        pairs=pairs,
        gaps=gaps,
        flagged=share(lambda gap: abs(gap) >= GAP_THRESHOLD),
        next_step_checked=rules[("next", "checked")],
        next_step_mismatches=rules[("next", "mismatch")],
        lower=share(lambda gap: gap < 0),
        higher=share(lambda gap: gap > 0),
        doubts_checked=rules[("doubts", "checked")],
        doubts_mismatches=rules[("doubts", "mismatch")],
        referral_checked=rules[("referral", "checked")],
        referral_mismatches=rules[("referral", "mismatch")],
    )


# --- Free text ---------------------------------------------------------------------------------


def improve_texts(filters: ReportFilters) -> list[tuple[Any, str, int, int]]:
    """(stage, `improve` answer, how many gave it, how many of those were named), from the report's
    text facts (trimmed texts counted per scope as answers arrive).

    The named count decides whether an answer may be quoted: hr can read named answers on the
    interview pages anyway, while an anonymous wording is quoted only when enough answers share it.
    """
    answers: dict[tuple[Any, str], list[int]] = {}
    for stage, label, text, count in fact_sums.text_fact_rows(filters, IMPROVE_TEXT):
        given = answers.setdefault((stage, text), [0, 0])
        given[0] += count
        given[1] += count if label == "named" else 0
    return [(stage, text, total, named) for (stage, text), (total, named) in answers.items()]


def process_issue_texts(filters: ReportFilters) -> list[tuple[str, str, int]]:
    """(stage, debrief process issues or "", how many) over the debriefs the filters select, from
    the report's text facts (trimmed texts counted per interview scope as debriefs change)."""
    return [(stage, text, count) for stage, _, text, count in fact_sums.text_fact_rows(filters, ISSUES_TEXT)]


def response_count(filters: ReportFilters) -> int:
    """How many responses an export of raw rows will hold."""
    return counts_by(filters, None)[None]

"""Which reports a question is about, by the places it names (no model needed)."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from qa.ingest.places import gazetteer, short_name
from qa.retrieval.routing import PlaceRouter


def report(id_: str, place: str, place_full: str) -> SimpleNamespace:
    return SimpleNamespace(id=id_, place=place, place_full=place_full)


REPORTS = [
    report("beiguan", "北关区", "安阳市北关区"),
    report("bozhou", "亳州市", "安徽省亳州市"),
    report("hailar16", "海拉尔区", "呼伦贝尔市海拉尔区"),
    report("hailar18", "海拉尔区", "呼伦贝尔市海拉尔区"),
    report("yi", "易县", "保定市易县"),
    report("quyang", "曲阳县", "保定市曲阳县"),
    report("hechi", "河池市", "河池市"),
]


@pytest.fixture(scope="module")
def router() -> PlaceRouter:
    return PlaceRouter(REPORTS)


@pytest.mark.parametrize(
    ("question", "documents"),
    [
        ("亳州今年GDP增长目标是多少", ("bozhou",)),
        ("亳州市去年新增就业多少", ("bozhou",)),
        ("毫州去年新增就业多少", ("bozhou",)),  # a typo of a rare character
        ("Bozhou去年给企业降本减负了多少钱", ("bozhou",)),
        ("bz的中药材产业有多大", ("bozhou",)),  # initials, in a Chinese question
        ("What was the passenger throughput of Hailar airport in 2015?", ("hailar16", "hailar18")),
        ("How many 4A-level tourist attractions does Hechi have?", ("hechi",)),
        ("易县今年粮食产量目标", ("yi",)),
        ("北关区在安阳市排第几", ("beiguan",)),
        ("河池宜州区新建了什么", ("hechi",)),  # a county of the city: still the city's report
        ("今年建筑业税收目标是多少", ()),
    ],
)
def test_the_places_a_question_names_pick_their_reports(router, question, documents):
    assert router.mention(question).documents == documents


@pytest.mark.parametrize(
    ("question", "others"),
    [
        ("殷都区今年GDP是多少", ("殷都区",)),  # a place no report is about
        ("安阳市全市的GDP是多少", ("安阳市",)),  # the parent as a whole, not the district
        ("保定今年GDP是多少", ("保定",)),
        ("安阳河俺们这一段水现在咋样", ()),  # a river, not the city
        ("北关区在安阳市排第几", ()),  # the report's own place is named too
        ("GDP是多少", ()),
    ],
)
def test_a_place_no_searched_report_is_about_is_told(router, question, others):
    assert router.mention(question).others == others


def test_the_scope_limits_what_a_question_can_be_routed_to(router):
    assert router.mention("亳州和河池哪个大", scope=["hechi"]).documents == ("hechi",)
    outside = router.mention("亳州的GDP", scope=["hechi"])
    assert (outside.documents, outside.others) == ((), ("亳州",))


def test_the_gazetteer_knows_levels_parents_and_short_names():
    places = gazetteer()
    yi = places.resolve("易县")
    assert (yi.level, yi.level_name, [p.name for p in places.parents(yi)]) == (2, "县", ["河北省", "保定市"])
    assert places.resolve("河池").name == "河池市"
    assert (
        short_name("广西壮族自治区") == "广西" and short_name("易县") == "易县" and short_name("海拉尔区") == "海拉尔"
    )
    assert places.named_in("在城区和郊区") == []  # one-character stems are ordinary words

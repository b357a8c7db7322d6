"""Question analysis, follow-up completion, and each flag behind a decline reason: one
case where it fires and one where it does not."""

import pytest

from qa.answering.answer import Answerer
from qa.answering.features import FEATURES, candidates, reasons
from qa.answering.followup import leans_on_history, resolve_followup
from qa.answering.question import analyze, language_of
from qa.text.vocabulary import (
    MULTI_YEAR,
    answering_kinds,
    asked_object,
    asked_types,
    asked_unit,
    asks_span,
    expansions,
    figure_kind,
    figures,
    period_cues,
    unit_fits,
    years_named,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def retriever(engine):
    return engine.retriever


# -- vocabulary -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("question", "kinds"),
    [
        ("今年建筑业税收目标是多少", {"figure"}),
        ("去年扶贫一共花了多少钱", {"figure", "money"}),
        ("今年规上工业增加值要增长多少", {"figure", "percent"}),
        ("去年新招了多少个老师", {"figure", "count"}),
        ("报告是哪天在会上作的", {"date"}),
        ("什么是“放管服”？", {"definition"}),
        ("今年要加快修哪些路", {"list"}),
        ("去年北关有哪几条新路通车了", {"list"}),  # 哪几条 lists, it does not count
        ("这个报告是谁做的？", {"name"}),
        ("新都城为什么会烂尾", {"reason"}),
        ("How many new teachers were hired last year?", {"figure", "count"}),
    ],
)
def test_asked_types(question, kinds):
    assert kinds <= asked_types(question)
    if "list" in kinds:
        assert "count" not in asked_types(question)


def test_a_bare_noun_asks_how_much_of_it_not_a_share_nor_money():
    # 多少违章建筑 is answered in 平方米 as well as in 处; 增加多少绿地 asks no rate
    assert answering_kinds(asked_types("去年一共拆了多少违章建筑")) >= {"count", "area"}
    assert "money" not in answering_kinds(asked_types("去年一共拆了多少违章建筑"))
    assert "percent" not in asked_types("县城计划增加多少绿地")
    assert "percent" in asked_types("今年GDP增加了多少？") and "percent" in asked_types("提高多少个百分点")
    assert answering_kinds(asked_types("去年新招了多少个老师")) == {"count"}
    assert {"count"} <= asked_types("有多少万人参保") and "money" not in asked_types("有多少万人参保")
    assert "money" in asked_types("投资多少亿") and "area" in asked_types("种了多少万亩")
    assert answering_kinds(asked_types("今年建筑业税收目标是多少")) == set()  # any figure
    assert answering_kinds(asked_types("今年想撬动多少民间投资")) == {"money"}
    assert answering_kinds(asked_types("去年征收了多少面积的房子")) == {"area"}


def test_a_money_noun_before_how_much_asks_money_and_a_growth_target_a_rate():
    assert answering_kinds(asked_types("去年外贸进出口总额是多少")) == {"money"}
    assert answering_kinds(asked_types("去年一般公共预算收入完成了多少")) == {"money"}
    assert answering_kinds(asked_types("规上工业产值有多少")) == {"money"}
    # growth of an amount is a rate; a share (份额) and a count of projects are no money
    assert answering_kinds(asked_types("一般公共预算收入增长了多少")) == {"percent"}
    assert "money" not in asked_types("市场份额是多少")
    assert answering_kinds(asked_types("投资多少个项目")) == {"count"}
    assert "percent" in asked_types("吸引外资定了什么增长目标")
    assert answering_kinds(asked_types("2023年税收是多少")) == {"money"}
    assert answering_kinds(asked_types("去年化解债务多少")) == {"money"}


def test_what_is_counted():
    def counted(question):
        return asked_object(question, lambda text: [text[:2]])  # a stand-in word splitter

    assert counted("北关区有几所大学") == "大学"
    assert counted("今年新增多少这类岗位") == "岗位"  # the demonstrative is no thing
    assert counted("准备治理几处没人负责的废弃露天矿山") == "废弃露天矿山"  # the phrase after 的
    assert counted("能多建几个那种多层的停车楼不？") == "停车楼"
    assert counted("住砖房的占了几成了") is None  # 几成 is a share
    assert counted("去年投资增长多少亿元") is None  # a unit, nothing counted
    assert counted("去年征收了多少面积的房子") is None  # the area is asked, not a number of houses


def test_asked_unit_ignores_generic_classifiers():
    assert asked_unit("北关区PM2.5年均浓度是多少微克每立方米？") == "微克"
    assert asked_unit("去年减贫多少人？") == "人"
    assert asked_unit("乡下去年新盖了几个垃圾站") is None  # 个 fits any count
    assert asked_unit("报告中的“六控”措施具体指哪几项？") is None  # which ones: a list, not a count
    assert asked_unit("承包到期后还能接着包多少年？") == "年"  # a span of years
    assert asked_unit("近几年新建了多少学校") is None  # 近几年 is a time, not how many years
    assert asked_unit("有多少万人参保") == "人"  # answered in 人 (3200人) or 万人


def test_a_figure_fits_the_asked_unit_in_an_equivalent_counter():
    assert unit_fits("家", "3140户") and unit_fits("名", "3162人")
    assert unit_fits("项", "100多个")  # a generic classifier counts anything
    assert not unit_fits("家", "158.3万元") and not unit_fits("元", "100多个") and not unit_fits("所", "5座")


def test_figure_kinds():
    assert [figure_kind(f) for f in ("139.66亿元", "2.9%", "109人", "5座", "3.5万平方米", "三分之一")] == [
        "money",
        "percent",
        "count",
        "count",
        "area",
        "percent",
    ]


def test_years_resolve_against_the_reports_own_year():
    assert years_named("去年GDP增长多少", 2020) == {2019}
    assert years_named("19年三产增加值多少", 2020) == {2019}
    assert years_named("今年目标", 2021) == {2021}
    assert years_named("去年GDP增长多少", None) == set()  # no year known: nothing guessed
    assert period_cues("去年GDP增长多少", 2020) == "review"
    assert period_cues("今年GDP增长目标", 2020) == "plan"
    assert period_cues("2020年GDP", 2020) == "this_year"
    assert period_cues("2020年GDP", 2021) == "review"  # the same words in the next year's report
    # aiming at a figure is a target; having obtained one (争取到了) is what was done
    assert period_cues("2020年工业总产值想冲到多少", 2020) == "plan"
    assert period_cues("2020年旅游人数争取达到多少", 2020) == "plan"
    assert period_cues("2019年争取到了多少债券资金", 2020) == "review"


def test_a_year_or_month_is_no_amount():
    def amounts(text):
        return [m.group(0) for m in figures(text)]

    assert amounts("2023年全市生产总值增长6%，计划2026年建成") == ["增长6%"]
    assert amounts("工业总产值在4月份开始回升，一期总投资335亿元") == ["335亿元"]
    assert amounts("土地承包到期后再延长30年") == ["30年"]  # a span of years is an amount


def test_a_grade_is_a_figure_but_counts_nothing():
    found = figures("做好国家4A级旅游景区申报，新增AAA级景区2个")
    assert [m.group(0) for m in found] == ["4A级", "AAA级", "2个"]
    assert [figure_kind(m.group(0)) for m in found] == ["other", "other", "count"]


def test_totals_over_several_years_are_told_from_one_years_figure():
    assert asks_span("这五年一共新招了多少老师") and asks_span("十三五期间累计投资多少")
    assert not asks_span("去年新招了多少老师")
    assert MULTI_YEAR.search("五年共实施重点工业项目141个") and MULTI_YEAR.search("“十三五”期间年均增长8%")
    assert not MULTI_YEAR.search("全年累计引进亿元以上投资项目43个")  # one year's running total
    assert not MULTI_YEAR.search("规模以上工业总产值完成188亿元")


def test_thesaurus_expands_everyday_and_english_words_as_whole_words():
    assert "教师" in expansions("去年新招了多少个老师")
    assert "税收" in expansions("How much tax did they pay")
    assert "税收" not in expansions("taxi drivers")
    # a phrase is matched before the word inside it
    assert expansions("What is the resident population?", latin_only=True) == ["常住人口"]


# -- question analysis -------------------------------------------------------------------


def test_analysis_of_a_chinese_question(retriever):
    q = analyze("北关区有几所大学", retriever)
    assert q.language == "zh" and q.counted == "大学" and "count" in q.types
    assert q.places == ("北关区",) and q.places_absent == ()
    # the district the report is about (its cover says so) is no topic; the city is
    assert "北关区" not in q.tokens and "大学" in q.tokens
    assert "安阳市" in analyze("安阳市全市的GDP是多少", retriever).tokens


def test_analysis_of_an_english_question(retriever):
    q = analyze("What is this year's GDP growth target?", retriever)
    assert q.language == "en" and q.period == "plan"
    assert {"生产总值", "增长", "目标"} <= set(q.tokens)  # matched in the report's own words


def test_words_and_places_the_report_never_uses(retriever):
    q = analyze("朝阳区去年的房价", retriever)
    assert q.places_absent == ("朝阳区",)
    assert "房价" in q.absent
    assert analyze("北关区去年生产总值", retriever).absent == ()


def test_glossary_terms_are_found_without_quotes_or_list_commas(retriever):
    assert analyze("千村示范万村整治工程是怎么回事", retriever).glossary
    assert analyze("“六稳”指的是哪几个方面", retriever).glossary
    assert not analyze("今年建筑业税收目标是多少", retriever).glossary


def test_language_of():
    assert language_of("社零 growth target 2020") == "zh"
    assert language_of("What ceiling does the plan set?") == "en"


# -- follow-ups ---------------------------------------------------------------------------

TAX = [{"role": "user", "content": "今年建筑业税收目标是多少"}, {"role": "assistant", "content": "突破4亿元"}]


def test_a_question_that_stands_alone_is_never_merged():
    assert not leans_on_history("去年城镇新增就业多少人")
    assert resolve_followup("去年城镇新增就业多少人", TAX) == "去年城镇新增就业多少人"
    assert resolve_followup("那去年呢", []) == "那去年呢"


def test_a_new_period_keeps_the_question_and_drops_the_target(retriever):
    assert resolve_followup("那去年呢", TAX, [], 2020) == "去年建筑业税收是多少"


def test_a_new_topic_keeps_the_intent():
    history = [{"role": "user", "content": "去年GDP增速多少"}]
    resolved = resolve_followup("那财政收入呢", history, [], 2020)
    assert "财政收入" in resolved and "多少" in resolved


def test_a_sibling_takes_the_place_of_its_counterpart():
    history = [{"role": "user", "content": "去年城镇居民人均可支配收入是多少？"}]
    assert resolve_followup("那农村的呢？", history, [], 2024) == "去年农村居民人均可支配收入是多少？"
    # Only when the follow-up is no more than the sibling, and the previous question names one.
    assert resolve_followup("那农村道路呢", history, [], 2024) != "去年农村居民人均可支配收入是多少？"
    assert resolve_followup("那出口呢", [{"role": "user", "content": "去年进出口总额是多少"}], [], 2024).startswith(
        "出口"
    )


def test_a_pronoun_stands_for_the_previous_topic():
    history = [{"role": "user", "content": "去年“厕所革命”完成了多少户？"}]
    assert resolve_followup("这个说法最早是谁提出的？", history, [], 2020) == "厕所革命最早是谁提出的？"


def test_a_new_glossary_term_replaces_the_old(retriever):
    history = [{"role": "user", "content": "什么是六稳"}]
    assert resolve_followup("那六保呢", history, retriever.glossary_terms, 2020) == "什么是六保"


# -- decline flags: one case that fires, one that does not ---------------------------------


def _flags(engine, question: str, containing: str) -> dict:
    """Feature values of the candidate sentence that contains ``containing``."""
    q = Answerer(engine.retriever, engine.fitted.answer).analyze(question)
    passages = engine.retriever.search(q.text, k=5)
    found = [c for c in candidates(q, passages, engine.retriever) if containing in c.sentence.text]
    assert found, f"no candidate with {containing!r} for {question!r}"
    values = dict(zip(FEATURES, found[0].features))
    values["_reasons"] = reasons(q, found[0], engine.retriever)
    return values


def test_a_single_years_question_is_told_a_sentence_speaks_of_several_years(engine):
    sentence = "为群众兑付资金"  # 累计为群众兑付资金6054万元
    assert _flags(engine, "去年为群众兑付资金多少", sentence)["span_mismatch"] == 1
    assert _flags(engine, "累计为群众兑付资金多少", sentence)["span_mismatch"] == 0  # a total is asked


def test_clause_coverage_needs_the_asked_words_beside_a_figure_of_the_asked_kind(engine):
    sentence = "亿元以上投资项目"  # 全年累计引进亿元以上投资项目43个，总投资69亿元
    count = _flags(engine, "去年引进了多少个亿元以上投资项目", sentence)
    assert count["clause_coverage"] > 0.5 and count["clause_coverage"] <= count["coverage"]
    # a share is asked: no clause holds a percentage, however well the sentence matches
    share = _flags(engine, "去年引进亿元以上投资项目占全部项目的百分之多少", sentence)
    assert share["coverage"] > 0.3 and share["clause_coverage"] == 0


def test_a_note_answers_what_where_and_when_of_the_term_it_explains_but_not_a_bare_figure(engine):
    note = "2014年3月4日就农村公路建设作出重要批示"  # the glossary note on 四好农村路
    for asked in ("四好农村路是什么", "“四好农村路”是哪天作出批示的"):
        assert _flags(engine, asked, note)["definition_entry"] == 1, asked
    assert _flags(engine, "“四好农村路”去年新建了多少条", note)["definition_entry"] == 0


@pytest.mark.parametrize(
    ("flag", "fires", "quiet", "sentence"),
    [
        ("year_uncovered", "2015年北关区生产总值是多少", "2019年北关区生产总值是多少", "139.66亿元"),
        ("place_absent", "朝阳区去年生产总值是多少", "北关区去年生产总值是多少", "139.66亿元"),
        ("figure_missing", "去年减贫多少人？", "去年减贫多少人？", "减贫123人"),
        ("kind_mismatch", "去年新招聘教师花了多少钱", "去年新招聘了多少教师", "新招聘教师109人"),
        ("unit_missing", "去年新招聘了多少户教师", "去年新招聘了多少人教师", "新招聘教师109人"),
        ("figure_echoed", "那16起非法集资陈案涉及多少群众", "非法集资陈案有多少起", "16起非法集资陈案"),
        ("counted_missing", "今年要建几所大学", "今年要建几所幼儿园", "所"),
        ("per_unit_missing", "去年人均扶贫资金是多少", "去年扶贫资金是多少", "1432.16万元"),
        ("reason_missing", "去年为什么新招聘教师", "去年新招聘了多少教师", "新招聘教师109人"),
        ("date_missing", "去年新招聘教师是哪天", "去年新招聘了多少教师", "新招聘教师109人"),
        ("period_mismatch", "今年新招聘教师多少人", "去年新招聘了多少教师", "新招聘教师109人"),
        ("year_elsewhere", "2018年新招聘了多少教师", "2019年新招聘了多少教师", "新招聘教师109人"),
        ("sibling_instead", "去年新增农村就业多少人", "去年新增城镇就业多少人", "11946"),
    ],
)
def test_decline_flag(engine, flag, fires, quiet, sentence):
    if flag == "figure_missing":
        # fires on a sentence without a figure, stays quiet on one with the figure
        on = _flags(engine, "今年建筑业要成立什么机构，有多少", "建筑业综合服务中心")
        off = _flags(engine, quiet, sentence)
    elif flag == "counted_missing":
        on = _flags(engine, fires, "幼儿园")
        off = _flags(engine, quiet, "幼儿园")
    else:
        on, off = _flags(engine, fires, sentence), _flags(engine, quiet, sentence)
    assert on[flag] > 0 and on["_reasons"], (flag, fires)
    assert off[flag] == 0, (flag, quiet)
    if flag == "kind_mismatch":  # the reason names the asked kind in words a reader knows
        assert any("a sum of money" in r for r in on["_reasons"]), on["_reasons"]

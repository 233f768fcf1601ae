from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from huizong.catalog import Catalog, CatalogError, Config


def test_catalog_is_the_spec_catalog(config):  # type: ignore[no-untyped-def]
    import csv

    spec = Path(__file__).resolve().parents[2] / "shared" / "spec" / "indicators.csv"
    assert len(config.catalogs["key-indicators"]) == 37
    if spec.exists():  # beside the repo in CI and on the developers' machines
        rows = list(csv.DictReader(spec.open(encoding="utf-8")))
        assert [r["code"] for r in rows] == [i.code for i in config.catalogs["key-indicators"]]
    a02 = config.catalogs["key-indicators"]["A02"]
    assert (a02.numerator, a02.denominator, a02.multiplier, a02.is_ratio) == ("A01", "Z01", Decimal("0.01"), True)
    assert config.catalogs["key-indicators"].by_name["技术合同交易额"].code == "E04"


def test_divisions_and_demo_city(config):  # type: ignore[no-untyped-def]
    counties = config.divisions.counties_of("620700")
    assert [c.code for c in counties] == ["620702", "620721", "620722", "620723", "620724", "620725"]
    assert len(config.divisions.county_codes) == 2849


@pytest.mark.parametrize(
    "text, code",
    [
        ("民乐县科学技术局", "620722"),
        ("肃南县科技局", "620721"),
        ("肃南裕固族自治县科学技术局", "620721"),
        ("甘州区科技局", "620702"),
        ("山丹科技局", "620725"),
        ("某某单位", None),
    ],
)
def test_county_from_office_name(config, text, code):  # type: ignore[no-untyped-def]
    found = config.divisions.find_county_in_text(text, "620700")
    assert (found.code if found else None) == code


def test_ambiguous_county_name_outside_city_is_not_guessed(config):  # type: ignore[no-untyped-def]
    assert config.divisions.find_county_in_text("朝阳区科技局", None) is None  # Beijing's and Changchun's


def _scanned(config, text, region):  # type: ignore[no-untyped-def]
    """find_county_in_text as it was first written: every spelling sought in the text."""
    from huizong.catalog import normalize_label, short_names

    s = normalize_label(text)
    pools = []
    for where in [region, None] if region else [None]:
        counties = config.divisions.counties_of(where) if where else config.divisions.counties_of("000000")
        pools.append([(normalize_label(n), len(n), d) for d in counties for n in short_names(d.name) if len(n) >= 2])
    for pool in pools if s else []:
        best = [(length, d) for spelling, length, d in pool if spelling in s]
        if best:
            top = max(length for length, _ in best)
            winners = {d.code for length, d in best if length == top}
            return winners.pop() if len(winners) == 1 else None
    return None


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_finding_a_county_by_its_substrings_finds_what_scanning_every_spelling_finds(config, data):  # type: ignore[no-untyped-def]
    names = [d.name for d in config.divisions.counties_of("000000")]
    pieces = st.one_of(
        st.sampled_from(names),
        st.sampled_from(names).map(lambda n: n[: max(2, len(n) - 1)]),
        st.sampled_from(["科学技术局", "科技局", "关于", "（盖章）", " ", "2024年", "上半年", "某某"]),
        st.text(alphabet="县区市旗州自治乡镇甲乙 ", max_size=4),
    )
    text = "".join(data.draw(st.lists(pieces, max_size=40 if data.draw(st.booleans()) else 4)))
    region = data.draw(st.sampled_from([None, "620700", "110000", "650000"]))
    found = config.divisions.find_county_in_text(text, region)
    assert (found.code if found else None) == _scanned(config, text, region), text


def test_the_longest_and_shortest_county_names_are_found_in_a_title(config):  # type: ignore[no-untyped-def]
    counties = sorted(config.divisions.counties_of("000000"), key=lambda d: len(d.name))
    for d in counties[-5:] + counties[:5]:
        title = f"关于{d.name}科学技术局2024年上半年主要指标的报告"
        found = config.divisions.find_county_in_text(title, None)
        assert (found.code if found else None) == _scanned(config, title, None), d.name
    longest = counties[-1]
    assert config.divisions.find_county_in_text(f"{longest.name}科技局", longest.parent) == longest


def test_unit_factors(config):  # type: ignore[no-untyped-def]
    u = config.units
    assert u.factor("亿元", "万元") == Decimal(10000)
    assert u.factor("万人次", "人次") == Decimal(10000)
    assert u.factor("户", "家") == Decimal(1)
    assert u.factor("亿元", "家") is None


def test_a_city_can_add_an_indicator_without_code(tmp_path, config):  # type: ignore[no-untyped-def]
    import shutil

    root = tmp_path / "cfg"
    shutil.copytree(config.root, root)
    with (root / "catalog" / "indicators.csv").open("a", encoding="utf-8") as f:
        f.write("H01,科技金融,科技信贷余额,Tech loans,亿元,stock,sum,,,,n,n,科技贷款余额,n,\n")
    cfg = Config.load(root)
    assert cfg.catalogs["key-indicators"]["H01"].name == "科技信贷余额"
    assert cfg.catalogs["key-indicators"].by_name["科技贷款余额"].code == "H01"


def test_alias_used_twice_is_refused(tmp_path):  # type: ignore[no-untyped-def]
    p = tmp_path / "indicators.csv"
    p.write_text(
        "code,group,name_zh,name_en,unit,kind,aggregate,numerator,denominator,multiplier,integer,required,aliases\n"
        "X01,g,甲,a,家,stock,sum,,,,y,y,乙\nX02,g,乙,b,家,stock,sum,,,,y,y,\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError):
        Catalog.load(p)


def test_an_unknown_column_of_a_catalog_file_is_refused_not_ignored(tmp_path, config):  # type: ignore[no-untyped-def]
    import shutil

    p = tmp_path / "indicators.csv"
    p.write_text(
        "code,group,name_zh,name_en,unit,kind,aggregate,numerater,denominator\nX01,g,甲,a,家,stock,sum,,\n",
        encoding="utf-8",
    )
    with pytest.raises(CatalogError, match="不认识的列 'numerater'"):
        Catalog.load(p)
    root = tmp_path / "cfg"
    shutil.copytree(config.root, root)
    units = root / "catalog" / "units.csv"
    units.write_text(units.read_text(encoding="utf-8").replace("note", "notes", 1), encoding="utf-8")
    with pytest.raises(CatalogError, match=r"units\.csv: 不认识的列 'notes'"):
        Config.load(root)

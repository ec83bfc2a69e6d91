"""The derived public data (calibration/data/*.csv, calibration/data/arms_orders_2019.yaml) are complete and consistent.

The raw sources (the SIPRI register, AidData's table, the national trade tables) are not in the
repository; these tests read only what the derive scripts wrote and check what a bad re-run or a
hand edit would break: missing rows, negative values, parts larger than wholes, and disagreement
with the shipped targets in calibration/targets.yaml that were computed independently.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pandas as pd
import pytest

from sim.model.parameters import load_files
from sim.yamlio import read_yaml
from tests.conftest import ROOT

DATA = ROOT / "calibration" / "data"
TARGETS = ROOT / "calibration" / "targets.yaml"
ORDERS = ROOT / "calibration" / "data" / "arms_orders_2019.yaml"
STATES = ("KZ", "KG", "TJ", "TM", "UZ")
SUPPLIERS = ("china", "russia", "eu", "us", "others")
#: Shares in targets.yaml are rounded to 3 decimals (largest remainder): allow that and a little more.
SHARE_TOLERANCE = 0.002


def read(name: str) -> pd.DataFrame:
    return pd.read_csv(DATA / name, comment="#")


@pytest.fixture(scope="module")
def sipri() -> pd.DataFrame:
    return read("sipri_annual.csv")


def shipped_targets(channel: str, id_prefix: str) -> Iterator[dict[str, Any]]:
    """Raw target entries of one channel whose id starts with ``id_prefix`` (read raw: schema-agnostic on purpose)."""
    tree, _ = read_yaml(TARGETS)
    for entry in tree["targets"]:
        if entry.get("channel") == channel and str(entry.get("id", "")).startswith(id_prefix):
            yield entry


def test_sipri_annual_has_every_state_year_and_supplier_once(sipri):
    keys = sipri[["state", "year", "supplier"]]
    assert not keys.duplicated().any()
    expected = {(s, y, p) for s in STATES for y in range(2005, 2025) for p in SUPPLIERS}
    assert set(map(tuple, keys.itertuples(index=False))) == expected


def test_sipri_annual_values_are_sane(sipri):
    assert (sipri[["tiv_delivered", "tiv_from_orders_by_2019", "n_deals"]] >= 0).all().all()
    assert (sipri["tiv_from_orders_by_2019"] <= sipri["tiv_delivered"] + 1e-9).all()
    # Nothing delivered by 2019 can have been ordered after 2019.
    early = sipri[sipri["year"] <= 2019]
    assert (early["tiv_from_orders_by_2019"] - early["tiv_delivered"]).abs().max() < 1e-9
    # A year with deliveries has at least one deal delivering (a deal's TIV may round to 0, so not the converse).
    assert (sipri.loc[sipri["tiv_delivered"] > 0, "n_deals"] >= 1).all()


def test_sipri_annual_reproduces_the_arms_delivery_targets_shares_of_total(sipri):
    checked = 0
    for target in shipped_targets("arms_deliveries", "sipri_"):
        if "share_of_total" not in target:
            continue
        first, last = target["period"]
        window = sipri[(sipri["state"] == target["state"]) & sipri["year"].between(first, last)]
        by_supplier = window.groupby("supplier")["tiv_delivered"].sum()
        total = by_supplier.sum()
        assert total == pytest.approx(target["total"]["value"], abs=0.01), target["id"]
        for supplier, share in target["share_of_total"].items():
            assert by_supplier[supplier] / total == pytest.approx(share, abs=SHARE_TOLERANCE), (target["id"], supplier)
        checked += 1
    assert checked >= 10


@pytest.fixture(scope="module")
def orders() -> dict[str, Any]:
    tree, _ = read_yaml(ORDERS)
    return tree["arms_orders"]


def deals(orders: dict[str, Any]) -> Iterator[tuple[str, str, str, dict[str, Any]]]:
    for state, by_supplier in orders.items():
        for supplier, by_deal in by_supplier.items():
            for deal_id, deal in by_deal.items():
                yield state, supplier, deal_id, deal


def test_the_order_book_follows_the_parameter_file_conventions():
    """Every number has a unit, range and source: the model's loader accepts the file as it is."""
    params = load_files([ORDERS])
    assert len(params) > 0
    assert all(p.path.startswith("arms_orders.") and p.source for p in params)


def test_the_order_book_holds_only_orders_placed_by_2019_still_open_in_2019(orders):
    count = 0
    for state, supplier, deal_id, deal in deals(orders):
        assert state in STATES and supplier in SUPPLIERS and deal_id.startswith("deal_")
        assert deal["name"].strip()
        assert deal["order_year"]["value"] <= 2019
        assert deal["order_date_estimated"]["value"] in (0, 1)
        assert deal["delivered_2019"]["value"] + deal["delivered_after_2019"]["value"] > 0, deal_id
        count += 1
    assert count >= 20


@pytest.mark.parametrize(("column", "years", "field"), [
    ("tiv_from_orders_by_2019", (2020, 2024), "delivered_after_2019"),
    ("tiv_delivered", (2019, 2019), "delivered_2019"),
])
def test_the_order_book_sums_to_the_annual_deliveries(orders, sipri, column, years, field):
    """What the 2019 book delivers after 2019 is what the annual table credits to orders placed by 2019."""
    annual = sipri[sipri["year"].between(*years)].groupby(["state", "supplier"])[column].sum()
    book: dict[tuple[str, str], float] = {}
    for state, supplier, _, deal in deals(orders):
        book[(state, supplier)] = book.get((state, supplier), 0.0) + deal[field]["value"]
    for (state, supplier), value in annual.items():
        assert book.get((state, supplier), 0.0) == pytest.approx(value, abs=0.01), (state, supplier)


def test_delivery_lag_shares_are_distributions():
    lag = read("sipri_delivery_lag.csv")
    assert {"world", "central_asia_5"} <= set(lag["scope"])
    for scope, rows in lag.groupby("scope"):
        assert list(rows["lag_years"]) == [*map(str, range(10)), "10+"], scope
        assert (rows["share"] >= 0).all() and (rows["tiv"] >= 0).all()
        assert rows["share"].sum() == pytest.approx(1.0, abs=1e-9), scope
        assert rows["cumulative_share"].iloc[-1] == pytest.approx(1.0, abs=1e-4)
        assert rows["cumulative_share"].is_monotonic_increasing


def test_aiddata_annual_is_complete_and_adds_up():
    aid = read("aiddata_annual.csv")
    assert set(map(tuple, aid[["state", "year"]].itertuples(index=False))) == {
        (s, y) for s in STATES for y in range(2000, 2022)}
    assert len(aid) == 5 * 22
    money = [c for c in aid.columns if c.endswith(("_adjusted", "_amount")) and not c.startswith("share")]
    assert (aid[money] >= 0).all().all()
    flows = aid[["oda_adjusted", "oof_adjusted", "vof_adjusted"]].sum(axis=1)
    assert (flows - aid["total_adjusted"]).abs().max() < 0.01
    shares = aid.groupby("year")["share_of_five_adjusted"].sum()
    assert (shares - 1).abs().max() < 1e-3
    # The 2000-2021 sums quoted in calibration/SOURCES.md section 2.6 (USD million, constant 2021).
    totals = aid.groupby("state")["total_adjusted"].sum().round()
    assert totals.to_dict() == {"KZ": 64146, "KG": 4131, "TJ": 6256, "TM": 12276, "UZ": 18209}


def test_trade_annual_reproduces_the_trade_targets():
    path = DATA / "trade_annual.csv"
    if not path.exists():
        pytest.skip("calibration/data/trade_annual.csv not derived")
    trade = pd.read_csv(path, comment="#")
    years = {"KZ": range(2018, 2023), "KG": range(2015, 2023), "UZ": range(2015, 2023)}
    partners = ("total", "china", "russia", "eu", "us", "others")
    assert set(map(tuple, trade[["state", "year", "partner"]].itertuples(index=False))) == {
        (s, y, p) for s, span in years.items() for y in span for p in partners}
    assert (trade[["exports_usd_mn", "imports_usd_mn", "turnover_usd_mn"]] >= 0).all().all()
    parts = trade[trade["partner"] != "total"].groupby(["state", "year"])["share_of_total"].sum()
    assert (parts - 1).abs().max() < 1e-4
    checked = 0
    for target in shipped_targets("aid", "trade_"):
        year = target["period"][0]
        rows = trade[(trade["state"] == target["state"]) & (trade["year"] == year)].set_index("partner")
        total = rows.loc["total", "turnover_usd_mn"]
        for power, share in target.get("share_of_total", {}).items():
            assert rows.loc[power, "turnover_usd_mn"] / total == pytest.approx(share, abs=SHARE_TOLERANCE), (
                target["id"], power)
        checked += 1
    assert checked >= 6


def test_the_model_s_arms_start_is_the_derived_data():
    """states.*.arms (imports, held, on_order) are the sums of sipri_annual.csv and the order book, to rounding."""
    from sim.model.parameters import default_parameters

    params = default_parameters()
    annual = pd.read_csv(ROOT / "calibration" / "data" / "sipri_annual.csv", comment="#")
    annual["supplier"] = annual["supplier"].replace({"others": "rest_of_world"})
    tree, _ = read_yaml(ORDERS)
    for state in STATES:
        rows = annual[annual.state == state]
        imports = rows[rows.year.between(2010, 2019)].tiv_delivered.sum() / 10
        assert params.value(f"states.{state}.arms.imports") == pytest.approx(imports, abs=0.01), state
        held = rows[rows.year.between(2009, 2018)].groupby("supplier").tiv_delivered.sum()
        book = {q: sum(d["delivered_2019"]["value"] + d["delivered_after_2019"]["value"] for d in by_deal.values())
                for q, by_deal in tree["arms_orders"].get(state, {}).items()}
        for supplier in ("china", "russia", "eu", "us", "rest_of_world"):
            assert params.value(f"states.{state}.arms.held.{supplier}") == pytest.approx(held.get(supplier, 0.0),
                                                                                         abs=0.02), (state, supplier)
            on_order = book.get("others" if supplier == "rest_of_world" else supplier, 0.0)
            assert params.value(f"states.{state}.arms.on_order.{supplier}") == pytest.approx(on_order, abs=0.02), \
                (state, supplier)

"""The peer a control analyst would write instead of claimlint: the four headline rules in
idiomatic pandas, over the same Parquet claim lines and provider file.

Usage: python benchmarks/pandas_headline.py CLAIMS.parquet PROVIDERS.parquet
Prints the number of lines each rule flags (the benchmark compares them with claimlint's).
"""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd

SURCHARGES = {
    "MN",
    "MM",
    "F",
    "SNP",
    "SHE",
    "MRT",
    "MHP",
    "MVR",
    "MCU",
    "MCY",
    "MP",
    "MCS",
    "MIC",
    "MSH",
    "MUT",
    "MU",
    "CRN",
    "CRM",
    "CRD",
    "CRS",
}
TELEEXPERTISE = {"RQD", "TE1", "TE2"}
PSYCHIATRY = {"33", "75", "17"}


def chronological(df: pd.DataFrame) -> pd.DataFrame:
    """Date, then time with missing last, then line id."""
    return df.sort_values(
        ["service_date", "service_time", "line_id"], na_position="last", kind="mergesort"
    )


def snp_cap(claims: pd.DataFrame) -> pd.Series:
    snp = chronological(claims[claims["act_code"] == "SNP"])
    iso = pd.to_datetime(snp["service_date"]).dt.isocalendar()
    rank = snp.groupby([snp["provider_id"], iso["year"], iso["week"]]).cumcount()
    return snp.loc[rank >= 20, "line_id"]


def tlc_urg(claims: pd.DataFrame) -> pd.Series:
    recent = claims[claims["service_date"] >= pd.Timestamp("2024-12-22").date()]
    main_tele = (~recent["act_code"].isin(SURCHARGES)) & (recent["setting"] == "teleconsultation")
    claim_tele = main_tele.groupby(recent["claim_id"]).transform("any")
    flagged = recent["act_code"].isin({"MN", "MM", "F"}) & (
        (recent["setting"] == "teleconsultation") | claim_tele
    )
    return recent.loc[flagged, "line_id"]


def yyyy010_followup(claims: pd.DataFrame, providers: pd.DataFrame) -> pd.Series:
    acts = claims[
        (claims["act_code"] == "YYYY010")
        & (claims["service_date"] >= pd.Timestamp("2024-06-22").date())
        & ~claims["followup"].isin({"urgences", "hospitalisation"})
    ]
    validated = providers.loc[providers["yyyy010_cpl_validated"].fillna(False), "provider_id"]
    return acts.loc[~acts["provider_id"].isin(validated), "line_id"]


def tlc_cap_psy(claims: pd.DataFrame, providers: pd.DataFrame) -> pd.Series:
    lines = claims[
        claims["provider_specialty"].isin(PSYCHIATRY)
        & ~claims["act_code"].isin(SURCHARGES | TELEEXPERTISE)
        & (claims["service_date"] >= pd.Timestamp("2024-06-22").date())
    ]
    lines = chronological(lines).assign(year=lambda d: pd.to_datetime(d["service_date"]).dt.year)
    derogation = providers.set_index("provider_id")["tlc_cap_derogation"].astype("float64")
    lines = lines.join(derogation, on="provider_id")
    key = [lines["provider_id"], lines["year"]]
    total = lines.groupby(key)["line_id"].transform("size")
    cap = np.minimum(np.maximum(40.0, lines["tlc_cap_derogation"].fillna(40.0)), 50.0)
    allowed = np.floor(cap * total / 100 + 1e-9)
    counted = (lines["setting"] == "teleconsultation") & ~lines["treating_doctor"].fillna(False)
    rank = counted.astype(int).groupby(key).cumsum()
    return lines.loc[counted & (rank > allowed), "line_id"]


def main(claims_path: str, providers_path: str) -> None:
    start = time.perf_counter()
    claims = pd.read_parquet(claims_path)
    providers = pd.read_parquet(providers_path)
    flagged = {
        "SNP-CAP": snp_cap(claims),
        "TLC-URG": tlc_urg(claims),
        "YYYY010-FOLLOWUP": yyyy010_followup(claims, providers),
        "TLC-CAP-PSY": tlc_cap_psy(claims, providers),
    }
    elapsed = time.perf_counter() - start
    for rule, ids in flagged.items():
        print(f"{rule}\t{len(ids)}")
    print(f"seconds\t{elapsed:.2f}", file=sys.stderr)


if __name__ == "__main__":
    main(*sys.argv[1:3])

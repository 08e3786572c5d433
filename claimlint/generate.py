"""Synthetic claim batches for benchmarks and demonstrations (`claimlint generate`).

A seeded, reproducible population: providers with a plausible specialty, sector and option mix
(about 55 % general practice, 5 % psychiatry, 70 % sector 1), patients aged 0 to 100, and
claims of one to four lines billed by them between 2024-01-01 and 2026-12-31 (every month
alike; Sundays thinned out). Main acts follow the specialty: G dominates general practice;
APC, APY, APU, COE, CNP and CS the specialists; CCAM acts (`[A-Z]{4}[0-9]{3}`, the derogation
codes of the catalogue and others), YYYY010 rarely. About 10 % of main acts are
teleconsultations. Surcharges come at plausible rates with what justifies them: SNP (and SHE
at 19:00-21:00) under SAS regulation, MRT by the treating doctor for the centre 15, MN/MM/F in
urgent care at night or on Sundays, MHP out of hours, MVR on SAS home visits in 2026, MCU/MCY
within the delay of a referral, MIC/MSH, GL1-3 from 2026 for patients aged 80 or more, CCAM
modifiers K/T/3 where the provider's sector and option allow them. Opposable lines bill the
tariff of CATALOGUE.md at the service date; sector 2 lines without option (and OPTAM lines
marked `opposable` false) add an excess fee.

Clean claims are built not to break the catalogue's rules, including the aggregate ones: a
provider's weekly SNP count stays within 20 and the teleconsultation share of each provider and
calendar year stays within its cap, because generation keeps running counts and holds back a
teleconsultation or an SNP that would cross the line.

Injected violations
-------------------
Each claim (encounter) is drawn clean or, with the probability below, as a scenario that
breaks one rule of CATALOGUE.md and, by construction, no other; its dates fall in the rule's
effective period. Rates are shares of the claims drawn (one claim is 1.15 lines on average),
except the provider-level ones. `GenerationReport.injected` gives, per rule, the number of
records a checker should report; for SNP-CAP, TLC-CAP-PSY and TLC-CAP it is computed from the
final counts (the excess lines).

| rule             | rate           | scenario                                                            |
|------------------|----------------|---------------------------------------------------------------------|
| SNP-CAP          | 0.02 % claims  | a burst: one GP, one ISO week, SNP claims up to 21-28 SNP           |
| SNP-MT           | 0.10 % claims  | SNP billed by the patient's treating doctor                         |
| SNP-REG          | 0.10 % claims  | SNP without SAS regulation                                          |
| SHE-HOURS        | 0.08 % claims  | SHE before 19:00, from 21:00, or without time                       |
| SHE-WITH         | 0.05 % claims  | SHE without SNP or MRT on the claim                                 |
| SHE-PSY          | 0.03 % claims  | SHE on a psychiatrist's claim billing MCY                           |
| SHE-DATE         | 0.05 % claims  | SHE before 2024-12-22                                               |
| MRT-MT           | 0.08 % claims  | MRT not by the treating doctor, or not on a centre 15 request       |
| MHP-CUMUL        | 0.08 % claims  | MHP with MN, CRN, SNP or MRT on the claim                           |
| MHP-HOURS        | 0.15 % claims  | MHP on a working day (Tuesday-Thursday) in office hours             |
| MHP-OPP          | 0.05 % claims  | MHP by a sector 2 provider without option (not opposable)           |
| MVR-DATE         | 0.03 % claims  | MVR before 2026-01-01                                               |
| MVR-COND         | 0.04 % claims  | MVR at the office, without SAS regulation, or not opposable         |
| MVR-DELAY        | 0.04 % claims  | MVR more than 24 hours after the SAS call, or without its time      |
| MCU-DELAY        | 0.15 % claims  | MCU 14-40 days after the referral, or without referral date         |
| MCY-DELAY        | 0.08 % claims  | MCY 14-40 days after the request, or without request date           |
| URG-JUSTIF       | 0.20 % claims  | MN, MM or F outside an emergency (`urgent` false)                   |
| TLC-URG          | 0.20 % claims  | MN, MM or F with a teleconsultation                                 |
| YYYY010-FOLLOWUP | 0.05 % claims  | YYYY010 without follow-up, organisation not validated by the CPL    |
| TARIF            | 0.50 % claims  | over-billing: G or APC above the tariff (early or wrong amount)     |
| TARIF            | 0.20 % claims  | under-billing: G or APC below the tariff (tariff not updated)       |
| GL-DATE          | 0.02 % claims  | GL before 2026-01-01                                                |
| GL-AGE           | 0.04 % claims  | GL for a patient under 80                                           |
| GL-MT            | 0.04 % claims  | GL not billed by the treating doctor                                |
| GL-FREQ          | 0.03 % claims  | the same GL code twice for one patient in one year (two claims)     |
| GL-CUMUL         | 0.03 % claims  | GL with MIC or MSH on the claim                                     |
| CUMUL-CCAM       | 0.30 % claims  | consultation and CCAM act on one claim without derogation           |
| SPIRO-FREQ       | 0.03 % claims  | a second GLQP012 in cumul for one patient in one year (two claims)  |
| MOD-K            | 0.05 % claims  | modifier K for a sector 2 provider with OPTAM or no option          |
| MOD-T            | 0.05 % claims  | modifier T for a provider without OPTAM                             |
| MOD-3            | 0.05 % claims  | modifier 3 by a non-anaesthetist, or before 2025-01-01              |
| TLC-CAP-PSY      | 10 % psych.    | psychiatrists teleconsulting about 65 % of their acts               |
| TLC-CAP          | 1 % others     | other providers teleconsulting about 40 % of their acts             |
| TLC-DEROG        | 0.3 % provid.  | derogation above 50, or given to a non-psychiatrist (one record)    |

Every population has at least one provider of each kind these scenarios need (one psychiatrist
and one other provider over the teleconsultation cap, one invalid derogation of each kind…), so
small batches exercise every family. FMT-AMOUNT reads another input (the treating-doctor
roster) and is not generated here.

Reproducible: the same lines, seed and chunk size give the same bytes (CSV or Parquet, for the
same pyarrow version). Output is written in chunks (`CHUNK_LINES`, one Parquet row group each)
so memory stays bounded whatever the number of lines; pyarrow is imported only here.
"""

from __future__ import annotations

import bisect
import contextlib
import datetime as dt
import os
import random
import secrets
from array import array
from collections.abc import Callable
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import attrs

from claimlint.checker.calendar import is_out_of_hours, is_public_holiday
from claimlint.errors import ClaimlintError

CHUNK_LINES = 200_000

# --- Calendar (dates are days since 1970-01-01, the Parquet date32 value) -------------------

_EPOCH = dt.date(1970, 1, 1)


def _day_of(iso: str) -> int:
    return (dt.date.fromisoformat(iso) - _EPOCH).days


START = _day_of("2024-01-01")  # a Monday
END = _day_of("2026-12-31")
NDAYS = END - START + 1
D_TLC = _day_of("2024-06-22")  # teleconsultation caps, YYYY010 clarification
D_REVAL = _day_of("2024-12-22")  # G 30 €, SHE, URG-JUSTIF, TLC-URG, CUMUL-CCAM
D_2025 = _day_of("2025-01-01")
D_2026 = _day_of("2026-01-01")  # GL, MVR, MCU in working days
D_ELDERLY = _day_of("1945-12-31")  # born on or before: 80 or more on any day of 2026
D_YOUNG = _day_of("1947-01-01")  # born on or after: under 80 on any day of 2026
D_CHILD = _day_of("2010-01-01")  # born on or after: a child or teenager
TUESDAY, WEDNESDAY, THURSDAY, SATURDAY, SUNDAY = 1, 2, 3, 5, 6


def _weekday(day: int) -> int:
    return (day + 3) % 7  # 1970-01-01 was a Thursday


def _year(day: int) -> int:
    return 2024 if day < D_2025 else 2025 if day < D_2026 else 2026


def _tlc_period(day: int) -> int:
    """Teleconsultation counting period: before the caps (2024-06-22), then each year."""
    return 0 if day < D_TLC else 1 if day < D_2025 else 2 if day < D_2026 else 3


def _date(day: int) -> dt.date:
    return _EPOCH + dt.timedelta(days=day)


# --- Codes and amounts --------------------------------------------------------------------

SURCHARGES = frozenset(
    "MN MM F SNP SHE MRT MHP MVR MCU MCY MP MCS MIC MSH MUT MU CRN CRM CRD CRS".split()
)
TELEEXPERTISE = frozenset({"RQD", "TE1", "TE2"})
NOT_MAIN = SURCHARGES | TELEEXPERTISE  # not counted in the teleconsultation share
GL_CODES = ("GL1", "GL2", "GL3")

# Euros by date (a value holds until the next one; None: no tariff then). The codes of the
# catalogue's tariff table first (checked by TARIF), then plausible amounts for the others.
_PRICES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "G": (("2024-01-01", "26.50"), ("2024-12-22", "30.00")),
    "APC": (("2024-01-01", "56.50"), ("2024-12-22", "60.00")),
    "APY": (("2024-01-01", None), ("2024-12-22", "67.50")),
    "APU": (("2024-01-01", None), ("2024-12-22", "74.00")),
    "COE": (("2024-01-01", "47.50"), ("2024-12-22", "54.00"), ("2025-07-01", "60.00")),
    "GL1": (("2024-01-01", None), ("2026-01-01", "60.00")),
    "GL2": (("2024-01-01", None), ("2026-01-01", "60.00")),
    "GL3": (("2024-01-01", None), ("2026-01-01", "60.00")),
    "SNP": (("2024-01-01", "15.00"),),
    "SHE": (("2024-01-01", None), ("2024-12-22", "5.00")),
    "MRT": (("2024-01-01", "15.00"),),
    "MVR": (("2024-01-01", None), ("2026-01-01", "10.00")),
    "TE2": (("2024-01-01", "20.00"), ("2026-01-01", "23.00")),
    # Not in the tariff table.
    "CS": (("2024-01-01", "30.00"), ("2024-12-22", "31.50")),
    "CNP": (("2024-01-01", "51.70"), ("2025-07-01", "57.00")),
    "MN": (("2024-01-01", "35.00"),),
    "MM": (("2024-01-01", "40.00"),),
    "F": (("2024-01-01", "19.06"),),
    "MHP": (("2024-01-01", "5.00"),),
    "MCU": (("2024-01-01", "5.00"),),
    "MCY": (("2024-01-01", "15.00"),),
    "MCS": (("2024-01-01", "5.00"),),
    "MIC": (("2024-01-01", "30.00"),),
    "MSH": (("2024-01-01", "23.00"),),
    "CRN": (("2024-01-01", "42.50"),),
    "CRM": (("2024-01-01", "51.50"),),
    "CRD": (("2024-01-01", "26.50"),),
    "CRS": (("2024-01-01", "26.50"),),
    "YYYY010": (("2024-01-01", "60.00"),),
}

# CCAM acts (code, euros). Derogation codes of the catalogue (cumul with a consultation
# allowed for the listed specialties from 2024-12-22) and acts billed on their own.
_CCAM: dict[str, str] = {
    "KCQM001": "38.40",
    "NZJB001": "39.04",
    "MZJB001": "39.04",
    "NZHB002": "60.00",
    "MZHB002": "55.00",
    "NZLB001": "38.40",
    "MZLB001": "38.40",
    "LHLB001": "41.80",
    "JKLD001": "38.40",
    "JKGD001": "41.80",
    "JKKD001": "38.40",
    "GLQP012": "40.28",
    "JQQM010": "53.20",
    "JQQM015": "56.52",
    "JQQM016": "56.52",
    "JQQM017": "56.52",
    "JQQM018": "79.80",
    "JQQM019": "79.80",
    "JQQM001": "62.70",
    "JQQM002": "62.70",
    "JQQM003": "62.70",
    "JQQM007": "62.70",
    "JQQM008": "62.70",
    "JLQE002": "45.60",
    "GFQM001": "40.28",
    # Acts billed alone (no derogation for a consultation on the same claim).
    "DEQP003": "14.52",
    "DZQM006": "96.04",
    "QZFA036": "41.80",
    "QZRB001": "28.80",
    "ZBQK002": "21.28",
    "ZCQM005": "56.70",
    "QEQK001": "66.50",
    "NAQK015": "25.27",
    "HHQE005": "138.00",
    "HEQE002": "96.00",
    "CDQP010": "26.88",
    "GAQE001": "46.10",
    "BGQP002": "28.27",
    "BLQP010": "36.16",
    "BJQP002": "11.52",
    "AAQP007": "71.04",
    "NFKA007": "490.86",
    "HMFC004": "271.70",
    "JDFE002": "167.20",
    "QZFA031": "83.60",
    "ZZLP025": "150.00",
    "ZZLP030": "190.00",
    "ZZLP054": "240.00",
    "AFLB010": "96.00",
}

GP, PSY, ANAES, SURG, GYN, PNEUMO, RHEUM, ENDO, PEDIA, TECH, RADIO = range(11)

# specialty, kind, share of providers, activity weight
SPECIALTIES: tuple[tuple[str, int, float, float], ...] = (
    ("01", GP, 0.500, 1.0),
    ("22", GP, 0.030, 1.0),
    ("23", GP, 0.020, 1.0),
    ("33", PSY, 0.040, 0.45),
    ("75", PSY, 0.006, 0.45),
    ("17", PSY, 0.004, 0.45),
    ("02", ANAES, 0.030, 0.8),
    ("07", GYN, 0.020, 0.7),
    ("70", GYN, 0.010, 0.7),
    ("79", GYN, 0.005, 0.7),
    ("13", PNEUMO, 0.015, 0.7),
    ("14", RHEUM, 0.015, 0.7),
    ("31", RHEUM, 0.008, 0.6),
    ("42", ENDO, 0.010, 0.6),
    ("03", TECH, 0.040, 0.8),  # cardiology
    ("05", TECH, 0.030, 0.8),  # dermatology
    ("06", RADIO, 0.030, 1.5),  # radiology
    ("08", TECH, 0.020, 0.6),  # gastro-enterology
    ("11", TECH, 0.020, 0.7),  # ENT
    ("12", PEDIA, 0.030, 0.9),
    ("15", TECH, 0.040, 1.0),  # ophthalmology
    ("32", TECH, 0.015, 0.6),  # neurology
    ("04", SURG, 0.010, 0.5),
    ("41", SURG, 0.015, 0.5),
    ("16", SURG, 0.006, 0.5),
)

# Derogations of the catalogue: CCAM codes a specialty may bill with a consultation.
_GP_DEROGATIONS = (
    "NZJB001", "MZJB001", "NZHB002", "MZHB002", "NZLB001", "MZLB001", "LHLB001",
    "JKLD001", "JKGD001", "JKKD001", "GLQP012",
)  # fmt: skip
_DEROGATIONS: dict[int, tuple[str, ...]] = {
    GYN: ("JKLD001", "JKGD001", "JKKD001", "JQQM010", "JQQM015", "JQQM016", "JQQM017",
          "JQQM018", "JQQM019", "JQQM001", "JQQM002", "JQQM003", "JQQM007", "JQQM008",
          "JLQE002"),
    PNEUMO: ("GLQP012", "GFQM001", "GFQM001"),
    RHEUM: ("NZJB001", "MZJB001", "NZHB002", "MZHB002", "NZLB001", "MZLB001", "LHLB001"),
    ENDO: ("KCQM001",),
}  # fmt: skip
# Acts billed alone, by specialty.
_SOLO: dict[str, tuple[str, ...]] = {
    "01": ("DEQP003",),
    "22": ("DEQP003",),
    "23": ("DEQP003",),
    "03": ("DEQP003", "DEQP003", "DZQM006"),
    "05": ("QZFA036", "QZRB001"),
    "06": ("ZBQK002", "ZCQM005", "QEQK001", "NAQK015"),
    "08": ("HHQE005", "HEQE002"),
    "11": ("CDQP010", "GAQE001"),
    "15": ("BGQP002", "BLQP010", "BJQP002"),
    "32": ("AAQP007",),
    "04": ("HMFC004", "QZFA031", "JDFE002"),
    "41": ("NFKA007", "QZFA031"),
    "16": ("JDFE002",),
    "02": ("ZZLP025", "ZZLP030", "ZZLP054", "AFLB010"),
    "07": ("JQQM010",),
    "13": ("GFQM001",),
}

_EXCESS = tuple(c * 100 for c in (5, 8, 10, 10, 15, 15, 20, 25, 30, 40))  # cents

CAB, DOM, TLC = "cabinet", "domicile", "teleconsultation"


# --- Injection rates ------------------------------------------------------------------------


@attrs.frozen
class InjectionRate:
    """A documented violation scenario: the rule it breaks, how often, what it looks like."""

    rule: str
    rate: float  # a share of `unit`
    unit: str  # "claims", "psychiatrists", "other providers" or "providers"
    scenario: str  # French, for the printed report
    key: str = ""


_R = InjectionRate
INJECTIONS: tuple[InjectionRate, ...] = (
    _R("SNP-CAP", 0.0002, "claims", "salve de SNP d'un généraliste au-delà de 20 par semaine ISO", "snp_burst"),
    _R("SNP-MT", 0.0010, "claims", "SNP facturée par le médecin traitant du patient", "snp_mt"),
    _R("SNP-REG", 0.0010, "claims", "SNP sans régulation SAS", "snp_reg"),
    _R("SHE-HOURS", 0.0008, "claims", "SHE avant 19 h, à partir de 21 h ou sans heure", "she_hours"),
    _R("SHE-WITH", 0.0005, "claims", "SHE sans SNP ni MRT sur la facture", "she_with"),
    _R("SHE-PSY", 0.0003, "claims", "SHE d'un psychiatre sur une facture avec MCY", "she_psy"),
    _R("SHE-DATE", 0.0005, "claims", "SHE avant le 22/12/2024", "she_date"),
    _R("MRT-MT", 0.0008, "claims", "MRT hors médecin traitant ou sans demande du centre 15", "mrt_mt"),
    _R("MHP-CUMUL", 0.0008, "claims", "MHP avec MN, CRN, SNP ou MRT sur la facture", "mhp_cumul"),
    _R("MHP-HOURS", 0.0015, "claims", "MHP un jour ouvré (mardi-jeudi) aux heures de cabinet", "mhp_hours"),
    _R("MHP-OPP", 0.0005, "claims", "MHP d'un secteur 2 sans option (hors tarif opposable)", "mhp_opp"),
    _R("MVR-DATE", 0.0003, "claims", "MVR avant le 01/01/2026", "mvr_date"),
    _R("MVR-COND", 0.0004, "claims", "MVR au cabinet, sans régulation SAS ou hors tarif opposable", "mvr_cond"),
    _R("MVR-DELAY", 0.0004, "claims", "MVR plus de 24 h après l'appel du SAS, ou sans heure d'appel", "mvr_delay"),
    _R("MCU-DELAY", 0.0015, "claims", "MCU 14 à 40 jours après l'adressage, ou sans date d'adressage", "mcu_delay"),
    _R("MCY-DELAY", 0.0008, "claims", "MCY 14 à 40 jours après la demande, ou sans date de demande", "mcy_delay"),
    _R("URG-JUSTIF", 0.0020, "claims", "MN, MM ou F hors urgence (urgent faux)", "urg_justif"),
    _R("TLC-URG", 0.0020, "claims", "MN, MM ou F avec une téléconsultation", "tlc_urg"),
    _R("YYYY010-FOLLOWUP", 0.0005, "claims", "YYYY010 sans passage aux urgences ni hospitalisation, hors CPL", "yyyy010"),
    _R("TARIF", 0.0050, "claims", "sur-facturation : G ou APC au-dessus du tarif", "tarif_over"),
    _R("TARIF", 0.0020, "claims", "sous-facturation : G ou APC en dessous du tarif", "tarif_under"),
    _R("GL-DATE", 0.0002, "claims", "GL avant le 01/01/2026", "gl_date"),
    _R("GL-AGE", 0.0004, "claims", "GL pour un patient de moins de 80 ans", "gl_age"),
    _R("GL-MT", 0.0004, "claims", "GL facturée hors médecin traitant", "gl_mt"),
    _R("GL-FREQ", 0.0003, "claims", "même code GL deux fois dans l'année pour un patient (deux factures)", "gl_freq"),
    _R("GL-CUMUL", 0.0003, "claims", "GL avec MIC ou MSH sur la facture", "gl_cumul"),
    _R("CUMUL-CCAM", 0.0030, "claims", "consultation et acte CCAM sur une facture sans dérogation", "cumul_ccam"),
    _R("SPIRO-FREQ", 0.0003, "claims", "seconde GLQP012 en cumul dans l'année pour un patient (deux factures)", "spiro_freq"),
    _R("MOD-K", 0.0005, "claims", "modificateur K d'un secteur 2 avec OPTAM ou sans option", "mod_k"),
    _R("MOD-T", 0.0005, "claims", "modificateur T d'un médecin sans OPTAM", "mod_t"),
    _R("MOD-3", 0.0005, "claims", "modificateur 3 hors anesthésiste ou avant le 01/01/2025", "mod_3"),
    _R("TLC-CAP-PSY", 0.10, "psychiatrists", "psychiatres à environ 65 % de téléconsultations", ""),
    _R("TLC-CAP", 0.01, "other providers", "autres médecins à environ 40 % de téléconsultations", ""),
    _R("TLC-DEROG", 0.003, "providers", "dérogation au-delà de 50 % ou hors psychiatrie", ""),
)  # fmt: skip
_CLAIM_INJECTIONS = tuple(r for r in INJECTIONS if r.unit == "claims")
_INJECT_CUMULATIVE = tuple(
    sum(r.rate for r in _CLAIM_INJECTIONS[: i + 1]) for i in range(len(_CLAIM_INJECTIONS))
)
INJECT_TOTAL = _INJECT_CUMULATIVE[-1]

HEAVY_PSY_SHARE, HEAVY_OTHER_SHARE, INVALID_DEROGATION_SHARE = 0.10, 0.01, 0.003

# Catalogue order, for reports.
RULES = (
    "SNP-CAP", "TLC-URG", "YYYY010-FOLLOWUP", "TLC-CAP-PSY", "TLC-CAP", "TLC-DEROG", "SNP-MT",
    "SNP-REG", "SHE-HOURS", "SHE-WITH", "SHE-PSY", "SHE-DATE", "MRT-MT", "MHP-CUMUL",
    "MHP-HOURS", "MHP-OPP", "MVR-DATE", "MVR-COND", "MVR-DELAY", "MCU-DELAY", "MCY-DELAY",
    "URG-JUSTIF", "GL-DATE", "GL-AGE", "GL-MT", "GL-FREQ", "GL-CUMUL", "TARIF", "CUMUL-CCAM",
    "SPIRO-FREQ", "MOD-K", "MOD-T", "MOD-3",
)  # fmt: skip


# --- Report ---------------------------------------------------------------------------------


@attrs.frozen
class GenerationReport:
    """What was written: sizes, files, and the violations injected (records expected per rule)."""

    lines: int
    claims: int
    providers: int
    patients: int
    seed: int
    out: Path
    providers_out: Path
    injected: dict[str, int] = attrs.field(hash=False)
    rates: tuple[InjectionRate, ...] = INJECTIONS

    @property
    def total_injected(self) -> int:
        return sum(self.injected.values())

    def render(self) -> str:
        """The report in French, as `claimlint generate` prints it."""

        def n(value: int) -> str:
            return f"{value:,}".replace(",", "\u202f")

        def pct(rate: float) -> str:
            return f"{rate * 100:.2f}".rstrip("0").rstrip(".").replace(".", ",") + " %"

        units = {
            "claims": "des factures",
            "psychiatrists": "des psychiatres",
            "other providers": "des autres médecins",
            "providers": "des médecins",
        }
        out = [
            f"{n(self.lines)} lignes, {n(self.claims)} factures, {n(self.providers)} médecins, "
            f"{n(self.patients)} patients (graine {self.seed})",
            f"  lignes      : {self.out}",
            f"  référentiel : {self.providers_out}",
            "Violations injectées (taux documentés ; enregistrements attendus par règle) :",
        ]
        width = max(len(r.rule) for r in self.rates)
        for rate in self.rates:
            out.append(
                f"  {rate.rule:<{width}}  {pct(rate.rate):>7} {units[rate.unit]:<19}  "
                f"{rate.scenario}"
            )
        out.append("Enregistrements attendus :")
        for rule in RULES:
            out.append(f"  {rule:<{width}}  {n(self.injected.get(rule, 0)):>9}")
        out.append(f"  {'total':<{width}}  {n(self.total_injected):>9}")
        return "\n".join(out)


# --- Population -----------------------------------------------------------------------------


@attrs.define(slots=True)
class Provider:
    index: int
    id: str
    specialty: str
    kind: int
    sector: str
    option: str
    opp_mode: int  # 0 sector 1, 1 OPTAM / OPTAM-ACO, 2 sector 2 without option
    tlc_rate: float
    tlc_heavy: bool
    tlc_cap: int  # percent, as the rules compute it (used to hold back teleconsultations)
    derogation: int | None
    cpl_validated: bool
    zone: str
    birth: int
    installed: int
    block_start: int = 0  # own patients (treating doctor): [block_start, block_start + size)
    block_size: int = 0


def _sector_option(rng: random.Random, kind: int, specialty: str) -> tuple[str, str]:
    r = rng.random()
    if kind == GP:
        table = ((0.88, "1", ""), (0.93, "2", "OPTAM"), (1.0, "2", ""))
    elif kind == PSY:
        table = ((0.60, "1", ""), (0.80, "2", "OPTAM"), (1.0, "2", ""))
    elif kind in (SURG, ANAES) or specialty in ("07", "79"):
        table = ((0.35, "1", ""), (0.65, "2", "OPTAM-ACO"), (0.80, "2", "OPTAM"), (1.0, "2", ""))
    else:
        table = ((0.55, "1", ""), (0.80, "2", "OPTAM"), (1.0, "2", ""))
    for bound, sector, option in table:
        if r < bound:
            return sector, option
    return table[-1][1], table[-1][2]


# Profiles every population holds, so that every scenario finds a provider:
# (specialty, sector, option, heavy teleconsulter, derogation, CPL-validated).
_COVERAGE: tuple[tuple[str, str, str, bool, int | None, bool], ...] = (
    ("01", "1", "", False, None, False),
    ("01", "1", "", False, None, True),
    ("01", "2", "", False, None, False),
    ("01", "2", "OPTAM", False, None, False),
    ("01", "1", "", True, None, False),
    ("33", "1", "", True, None, False),
    ("33", "1", "", False, 50, False),
    ("33", "2", "", False, 60, False),
    ("05", "1", "", False, 30, False),
    ("02", "1", "", False, None, False),
    ("02", "2", "OPTAM-ACO", False, None, False),
    ("02", "2", "OPTAM", False, None, False),
    ("41", "1", "", False, None, False),
    ("41", "2", "", False, None, False),
    ("41", "2", "OPTAM", False, None, False),
    ("07", "2", "OPTAM-ACO", False, None, False),
    ("13", "1", "", False, None, False),
    ("14", "1", "", False, None, False),
    ("42", "1", "", False, None, False),
    ("03", "1", "", False, None, False),
    ("12", "1", "", False, None, False),
)

_AGE_BANDS = ((0, 10, 12), (10, 20, 8), (20, 30, 8), (30, 40, 10), (40, 50, 11), (50, 60, 13),
              (60, 70, 14), (70, 80, 13), (80, 90, 9), (90, 100, 2))  # fmt: skip


_ID_MIX = 0x9E3779B97  # odd: a bijection modulo 2**40


@attrs.define
class Population:
    """Providers (with their reference data) and patients (birth dates; ids are derived)."""

    providers: list[Provider]
    births: array  # patient index -> birth date (days since 1970)
    children: array
    elderly: array
    id_mult: int
    id_salt: int

    @property
    def patients(self) -> int:
        return len(self.births)

    def patient_ids(self, indices: Any) -> Any:
        """Pseudonyms of an Arrow array of patient indices: "PT" and 13 digits, a seeded
        bijection of the index (odd multiplier, modulo 2**40)."""
        import pyarrow as pa
        import pyarrow.compute as pc

        u64 = pa.uint64()  # unsigned arithmetic wraps modulo 2**64: the low 40 bits stay exact
        mask = pa.scalar((1 << 40) - 1, u64)
        x = pc.multiply(indices.cast(u64), pa.scalar(self.id_mult, u64))
        x = pc.bit_wise_and(pc.add(x, pa.scalar(self.id_salt, u64)), mask)
        # Each step is invertible modulo 2**40 (xor with a right shift, odd multiplier).
        x = pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(19, u64)))
        x = pc.bit_wise_and(pc.multiply(x, pa.scalar(_ID_MIX, u64)), mask)
        x = pc.bit_wise_xor(x, pc.shift_right(x, pa.scalar(21, u64)))
        digits = x.cast(pa.string())
        return pc.binary_join_element_wise("PT", pc.utf8_lpad(digits, width=13, padding="0"), "")

    def birth_dates(self) -> Any:
        """Patient index -> birth date, as an Arrow date32 array."""
        import pyarrow as pa

        days = pa.Array.from_buffers(
            pa.int32(), len(self.births), [None, pa.py_buffer(self.births)]
        )
        return days.cast(pa.date32())

    @classmethod
    def build(cls, rng: random.Random, n_providers: int, n_patients: int) -> Population:
        specs = [(s, k) for s, k, _, _ in SPECIALTIES]
        shares = [share for _, _, share, _ in SPECIALTIES]
        kinds = dict(specs)
        drafts: list[tuple[str, str, str, bool, int | None, bool]] = list(_COVERAGE)
        while len(drafts) < n_providers:
            specialty, kind = rng.choices(specs, shares)[0]
            sector, option = _sector_option(rng, kind, specialty)
            psy = kind == PSY
            heavy = rng.random() < (HEAVY_PSY_SHARE if psy else HEAVY_OTHER_SHARE)
            derogation = None
            if rng.random() < INVALID_DEROGATION_SHARE:
                derogation = rng.choice((55, 60, 75)) if psy else rng.choice((25, 30, 40))
            elif psy and rng.random() < 0.10:
                derogation = rng.choice((45, 50))
            if heavy and not psy:
                derogation = None
            cpl = kind == GP and rng.random() < 0.02
            drafts.append((specialty, sector, option, heavy, derogation, cpl))
        drafts = drafts[:n_providers]
        rng.shuffle(drafts)

        providers = []
        reference_day = _day_of("2024-01-01")
        for i, (specialty, sector, option, heavy, derogation, cpl) in enumerate(drafts):
            kind = kinds[specialty]
            psy = kind == PSY
            if psy:
                cap = min(max(40, derogation if derogation is not None else 40), 50)
                rate = 0.65 if heavy else 0.28
            else:
                cap = 20
                rate = 0.40 if heavy else (0.15 if kind == GP else 0.06)
            if kind == RADIO or kind == ANAES or kind == SURG:
                rate = 0.40 if heavy else 0.01
            r = rng.random()
            zone = "ZIP" if r < 0.12 else "QPV" if r < 0.17 else "ZAC" if r < 0.25 else "none"
            birth = reference_day - int((30 + rng.random() * 40) * 365.25)
            installed = birth + int((29 + rng.random() * 9) * 365.25)
            if installed >= START:  # installed before the period of the claims
                installed = START - 1 - int(rng.random() * 1500)
            providers.append(
                Provider(
                    index=i,
                    id=f"P{i + 1:06d}",
                    specialty=specialty,
                    kind=kind,
                    sector=sector,
                    option=option,
                    opp_mode=0 if sector == "1" else 1 if option else 2,
                    tlc_rate=rate,
                    tlc_heavy=heavy,
                    tlc_cap=cap,
                    derogation=derogation,
                    cpl_validated=cpl,
                    zone=zone,
                    birth=birth,
                    installed=installed,
                )
            )

        births = array("i", bytes(4 * n_patients))
        band_weights = [w for _, _, w in _AGE_BANDS]
        cumulative = [sum(band_weights[: i + 1]) for i in range(len(band_weights))]
        total = cumulative[-1]
        for i in range(n_patients):
            lo, hi, _ = _AGE_BANDS[bisect.bisect(cumulative, rng.random() * total)]
            age_days = int((lo + rng.random() * (hi - lo)) * 365.25)
            births[i] = reference_day - 1 - age_days
        children = array("i", (i for i, b in enumerate(births) if b >= D_CHILD))
        elderly = array("i", (i for i, b in enumerate(births) if b <= D_ELDERLY))

        gps = [p for p in providers if p.kind == GP]
        size = n_patients // max(1, len(gps))
        for k, p in enumerate(gps):
            p.block_start, p.block_size = k * size, size
        return cls(
            providers=providers,
            births=births,
            children=children,
            elderly=elderly,
            id_mult=rng.getrandbits(39) * 2 + 1,
            id_salt=rng.getrandbits(40),
        )


def _activity(rng: random.Random, providers: list[Provider]) -> list[float]:
    weights = {s: w for s, _, _, w in SPECIALTIES}
    cumulative, total = [], 0.0
    for p in providers:
        total += weights[p.specialty] * rng.lognormvariate(0.0, 0.35)
        cumulative.append(total)
    return cumulative


# --- Generation -----------------------------------------------------------------------------

Line = tuple[str, str | None, int, int]  # act code, modifiers, quantity, amount in cents


class _Generator:
    """Claims into column lists; `flush` hands a chunk to the sink as an Arrow table."""

    def __init__(
        self,
        rng: random.Random,
        pop: Population,
        target: int,
        provider_table: Any,
        violation_scale: float = 1.0,
    ) -> None:
        self.rng = rng
        self.scale = violation_scale  # multiplies every claim-level injection rate
        self.provider_table = provider_table  # Arrow: provider index -> the line's columns
        self.width = max(6, len(str(target)))  # digits of line and claim numbers
        self.birth_dates: Any = None  # Arrow, built at the first flush
        self.random = rng.random
        self.pop = pop
        self.target = target
        providers = pop.providers
        self.providers = providers
        self.cumulative = _activity(rng, providers)
        self.total_weight = self.cumulative[-1]
        self.n_patients = pop.patients
        self.prices = {code: self._price_table(values) for code, values in _PRICES.items()}
        for code, euros in _CCAM.items():
            self.prices[code] = [_cents(euros)] * NDAYS

        def pool(test: Callable[[Provider], bool]) -> list[Provider]:
            return [p for p in providers if test(p)]

        self.gps = pool(lambda p: p.kind == GP and not p.tlc_heavy)
        self.gps_opp = pool(lambda p: p.kind == GP and p.opp_mode == 0 and not p.tlc_heavy)
        self.gps_s2 = pool(lambda p: p.kind == GP and p.opp_mode == 2 and not p.tlc_heavy)
        self.gps_no_cpl = pool(lambda p: p.kind == GP and not p.tlc_heavy and not p.cpl_validated)
        self.psys = pool(lambda p: p.kind == PSY and not p.tlc_heavy)
        self.cumul_pool = pool(
            lambda p: (p.kind == TECH or p.kind == GP) and not p.tlc_heavy and p.opp_mode == 0
        )
        self.spiro_pool = pool(lambda p: (p.kind == PNEUMO or p.kind == GP) and not p.tlc_heavy)
        self.apc_pool = pool(lambda p: p.kind == TECH and p.opp_mode == 0 and not p.tlc_heavy)
        self.mod_k_pool = pool(
            lambda p: p.kind in (SURG, ANAES) and p.sector == "2" and p.option != "OPTAM-ACO"
        )
        self.mod_t_pool = pool(lambda p: p.kind in (SURG, ANAES) and p.option != "OPTAM")
        self.surgeons = pool(lambda p: p.kind == SURG)
        self.anaes_3 = pool(lambda p: p.kind == ANAES and _mod3_eligible(p))

        # Running counts that keep clean claims clean.
        self.snp_weeks: dict[int, int] = {}
        self.tlc_n = [0] * (4 * len(providers))
        self.tlc_t = [0] * (4 * len(providers))
        self.gl_used: set[int] = set()
        self.spiro_used: set[int] = set()
        self.injected: dict[str, int] = {}
        self.claims = 0
        self.lines = 0

        self.handlers = [getattr(self, "_inject_" + r.key) for r in _CLAIM_INJECTIONS]
        self._reset()

    # -- columns

    def _reset(self) -> None:
        # One tuple per claim (the `emit` arguments) and per line; columns at flush time.
        self.claim_rows: list[tuple[Any, ...]] = []
        self.line_claims: list[int] = []  # line -> its claim's row in `claim_rows`
        self.line_rows: list[Line] = []

    @staticmethod
    def _price_table(values: tuple[tuple[str, str | None], ...]) -> list[int | None]:
        table: list[int | None] = []
        starts = [(_day_of(d), None if e is None else _cents(e)) for d, e in values]
        for day in range(START, END + 1):
            price = None
            for start, cents in starts:
                if day >= start:
                    price = cents
            table.append(price)
        return table

    def price(self, code: str, day: int, fallback: str | None = None) -> int:
        cents = self.prices[code][day - START]
        if cents is None:
            if fallback is None:
                raise AssertionError(f"pas de tarif pour {code} à cette date")
            return _cents(fallback)
        return cents

    def emit(
        self,
        p: Provider,
        pat: int,
        day: int,
        minute: int | None,
        setting: str,
        reg: str | None,
        treat: bool,
        urgent: bool,
        followup: str | None,
        ref_day: int | None,
        ref_minute: int | None,
        opp: bool | None,
        lines: list[Line],
    ) -> None:
        index = p.index
        self.line_claims.extend([len(self.claim_rows)] * len(lines))
        self.claim_rows.append(
            (
                index,
                pat,
                day,
                minute,
                setting,
                reg,
                treat,
                urgent,
                followup,
                ref_day,
                ref_minute,
                opp,
            )
        )
        self.line_rows.extend(lines)
        main = 0
        for line in lines:
            code = line[0]
            if code in NOT_MAIN:
                if code == "SNP":
                    key = index * 256 + (day - START) // 7
                    self.snp_weeks[key] = self.snp_weeks.get(key, 0) + 1
            else:
                main += 1
        if main:
            k = index * 4 + _tlc_period(day)
            self.tlc_n[k] += main
            if setting == TLC and not treat:
                self.tlc_t[k] += main
        self.claims += 1
        self.lines += len(lines)

    def flush(self, sink: Any) -> None:
        if self.line_rows:
            sink.write(self._table())
            self._reset()

    # -- drawing helpers

    def pick(self) -> Provider:
        return self.providers[bisect.bisect(self.cumulative, self.random() * self.total_weight)]

    def any_of(self, pool: list[Provider]) -> Provider:
        return pool[int(self.random() * len(pool))]

    def day(self) -> int:
        day = START + int(self.random() * NDAYS)
        if _weekday(day) == SUNDAY and self.random() < 0.85:
            day = START + int(self.random() * NDAYS)
        return day

    def between(self, first: int, last: int) -> int:
        return first + int(self.random() * (last - first + 1))

    def office(self, day: int) -> int:
        wd = _weekday(day)
        if wd < SATURDAY:
            return 480 + 5 * int(self.random() * 132)  # 08:00-18:55
        if wd == SATURDAY:
            return 480 + 5 * int(self.random() * 54)  # 08:00-12:25
        return 540 + 5 * int(self.random() * 48)  # 09:00-12:55

    def evening(self) -> int:
        return 1140 + 5 * int(self.random() * 24)  # 19:00-20:55

    def patient(self) -> int:
        return int(self.random() * self.n_patients)

    def own_patient(self, p: Provider) -> int:
        if p.block_size:
            return p.block_start + int(self.random() * p.block_size)
        return self.patient()

    def child(self) -> int:
        pool = self.pop.children
        return pool[int(self.random() * len(pool))] if pool else self.patient()

    def elderly(self) -> int:
        pool = self.pop.elderly
        return pool[int(self.random() * len(pool))] if pool else self.patient()

    def young(self) -> int:
        for _ in range(50):
            pat = self.patient()
            if self.pop.births[pat] >= D_YOUNG:
                return pat
        return pat

    def bill(self, p: Provider) -> tuple[bool | None, int]:
        """The claim's `opposable` cell and the excess fee of its main act (cents)."""
        mode = p.opp_mode
        if mode == 0:
            return None, 0
        r = self.random()
        excess = _EXCESS[int(self.random() * len(_EXCESS))]
        if mode == 1:
            return (None, 0) if r < 0.6 else (False, excess)
        return (True, 0) if r < 0.05 else (None, excess)

    def tlc_ok(self, p: Provider, day: int, main: int = 1) -> bool:
        """Whether `main` more counted teleconsultations keep the provider within the cap."""
        k = p.index * 4 + _tlc_period(day)
        return (self.tlc_t[k] + main) * 100 <= p.tlc_cap * (self.tlc_n[k] + main)

    def snp_ok(self, p: Provider, day: int) -> bool:
        return self.snp_weeks.get(p.index * 256 + (day - START) // 7, 0) < 20

    def choose_setting(self, p: Provider, day: int, treat: bool) -> tuple[str, bool]:
        """Teleconsultation at the provider's rate, held back at the cap; else office or home."""
        r = self.random()
        if r < p.tlc_rate:
            if p.tlc_heavy:
                return TLC, False
            if treat or self.tlc_ok(p, day):
                return TLC, treat
            return CAB, treat
        return (DOM, treat) if r > 0.97 else (CAB, treat)

    # -- one claim

    def claim(self) -> None:
        if self.target - self.lines < 8:
            self.filler()
            return
        u = self.random()
        if u < INJECT_TOTAL * self.scale:
            i = bisect.bisect(_INJECT_CUMULATIVE, u / self.scale)
            flagged = self.handlers[i]()
            if flagged:
                rule = _CLAIM_INJECTIONS[i].rule
                self.injected[rule] = self.injected.get(rule, 0) + flagged
            return
        self.clean()

    def filler(self) -> None:
        p = self.any_of(self.gps_opp)
        day = self.day()
        self.emit(p, self.own_patient(p), day, self.office(day), CAB, None, True, False,
                  None, None, None, None, [("G", None, 1, self.price("G", day))])  # fmt: skip

    def clean(self) -> None:
        p = self.pick()
        kind = p.kind
        if kind == GP:
            self.gp(p)
        elif kind == PSY:
            self.psy(p)
        elif kind == ANAES or kind == SURG or kind == RADIO:
            self.technical(p)
        else:
            self.specialist(p)

    def gp(self, p: Provider) -> None:
        random = self.random
        day = self.day()
        r = random()
        if r < 0.035:
            if self.snp_ok(p, day):
                return self.gp_snp(p, day)
        elif r < 0.043:
            return self.gp_mrt(p, day)
        elif r < 0.063:
            if day >= D_2026 and p.opp_mode != 2:
                return self.gp_mvr(p, day)
        elif r < 0.075:
            return self.gp_urgent(p, day)
        elif r < 0.087:
            if p.opp_mode != 2:
                return self.gp_mhp(p, day)
        elif r < 0.091:
            return self.gp_regulated_pdsa(p, day)
        elif r < 0.101:
            return self.gp_mic(p, day)
        elif r < 0.131:
            if day >= D_2026 and self.gp_gl(p, day):
                return None
        elif r < 0.151:
            return self.gp_ccam(p, day)
        elif r < 0.154:
            return self.yyyy010(p, day, clean=True)
        elif r < 0.174:
            return self.coe(p, day)
        elif r < 0.178:
            return self.te2(p, day)
        self.gp_plain(p, day)

    def gp_plain(self, p: Provider, day: int) -> None:
        random = self.random
        treat = random() < 0.65
        setting, treat = self.choose_setting(p, day, treat)
        pat = self.own_patient(p) if treat else self.patient()
        r = random()
        minute = self.office(day) if r < 0.94 else self.evening() if r < 0.99 else None
        opp, excess = self.bill(p)
        self.emit(p, pat, day, minute, setting, None, treat, False, None, None, None, opp,
                  [("G", None, 1, self.price("G", day) + excess)])  # fmt: skip

    def gp_snp(self, p: Provider, day: int, she: bool = True) -> None:
        random = self.random
        evening = random() < 0.3
        minute = self.evening() if evening else self.office(day)
        setting = CAB
        if random() < 0.1 and self.tlc_ok(p, day):
            setting = TLC
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            ("SNP", None, 1, self.price("SNP", day)),
        ]
        if she and evening and day >= D_REVAL and random() < 0.9:
            lines.append(("SHE", None, 1, self.price("SHE", day)))
        self.emit(p, self.patient(), day, minute, setting, "SAS", False, False, None, None,
                  None, opp, lines)  # fmt: skip

    def gp_mrt(self, p: Provider, day: int) -> None:
        evening = self.random() < 0.3
        minute = self.evening() if evening else self.office(day)
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            ("MRT", None, 1, self.price("MRT", day)),
        ]
        if evening and day >= D_REVAL and self.random() < 0.9:
            lines.append(("SHE", None, 1, self.price("SHE", day)))
        self.emit(p, self.own_patient(p), day, minute, CAB, "15", True, False, None, None,
                  None, opp, lines)  # fmt: skip

    def sas_call(
        self, day: int, minute: int, hours_min: float, hours_max: float
    ) -> tuple[int, int]:
        """The SAS call `hours_min`-`hours_max` hours before the visit: (day, minute)."""
        delay = int((hours_min + self.random() * (hours_max - hours_min)) * 60)
        at = day * 1440 + minute - delay
        return at // 1440, at % 1440

    def gp_mvr(self, p: Provider, day: int) -> None:
        """A SAS home visit by an opposable provider, within 24 hours of the call."""
        random = self.random
        minute = self.evening() if random() < 0.2 else self.office(day)
        ref_day, ref_minute = self.sas_call(day, minute, 0.5, 23.0)
        lines: list[Line] = [("G", None, 1, self.price("G", day))]
        with_snp = random() < 0.6 and self.snp_ok(p, day)
        if with_snp:
            lines.append(("SNP", None, 1, self.price("SNP", day)))
        lines.append(("MVR", None, 1, self.price("MVR", day)))
        if with_snp and minute >= 1140:
            lines.append(("SHE", None, 1, self.price("SHE", day)))
        self.emit(p, self.patient(), day, minute, DOM, "SAS", False, False, None, ref_day,
                  ref_minute, None, lines)  # fmt: skip

    def urgent_time(self, day: int, code: str) -> tuple[int, int]:
        """A (day, minute) when `code` (MN, MM or F) applies."""
        if code == "MN":
            if self.random() < 0.75:
                return day, 1200 + 5 * int(self.random() * 48)  # 20:00-23:55
            return day, 360 + 5 * int(self.random() * 24)  # 06:00-07:55
        if code == "MM":
            return day, 5 * int(self.random() * 72)  # 00:00-05:55
        day = _to_weekday(day, SUNDAY)
        return day, 480 + 5 * int(self.random() * 144)  # Sunday 08:00-19:55

    def gp_urgent(self, p: Provider, day: int, *, urgent: bool = True, tlc: bool = False) -> None:
        random = self.random
        r = random()
        code = "MN" if r < 0.45 else "MM" if r < 0.65 else "F"
        day, minute = self.urgent_time(day, code)
        if tlc:
            setting, treat = TLC, True  # a treating doctor's own patient: outside the cap
        else:
            setting, treat = (DOM if random() < 0.6 else CAB), random() < 0.5
        pat = self.own_patient(p) if treat else self.patient()
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            (code, None, 1, self.price(code, day)),
        ]
        self.emit(p, pat, day, minute, setting, None, treat, urgent, None, None, None, opp, lines)

    def pdsa_time(self, day: int) -> tuple[int, int]:
        """An out-of-hours (day, minute) whatever the public holidays: evening, Saturday
        afternoon or Sunday."""
        r = self.random()
        if r < 0.5:
            while _weekday(day) >= SATURDAY:
                day = self.day()
            return day, 1200 + 5 * int(self.random() * 36)  # 20:00-22:55
        if r < 0.75:
            return _to_weekday(day, SATURDAY), 840 + 5 * int(self.random() * 72)  # 14:00-19:55
        return _to_weekday(day, SUNDAY), 480 + 5 * int(self.random() * 144)  # 08:00-19:55

    def gp_mhp(self, p: Provider, day: int, extra: Line | None = None, *,
               reg: str | None = None, treat: bool | None = None, urgent: bool = False,
               opp_cell: bool | None = None, office_hours: bool = False) -> None:  # fmt: skip
        random = self.random
        if office_hours:
            while _weekday(day) not in (TUESDAY, WEDNESDAY, THURSDAY) or is_public_holiday(
                _date(day)
            ):
                day = self.day()
            minute = 540 + 5 * int(random() * 108)  # 09:00-17:55
        elif extra is not None:
            minute = 1200 + 5 * int(random() * 48)  # 20:00-23:55: out of hours any day
        else:
            day, minute = self.pdsa_time(day)
        if not office_hours:
            assert is_out_of_hours(_date(day), dt.time(minute // 60, minute % 60))
        if treat is None:
            treat = random() < 0.5
        setting = DOM if random() < 0.2 else CAB
        excess = (
            _EXCESS[int(random() * len(_EXCESS))] if p.opp_mode == 2 and opp_cell is None else 0
        )
        lines: list[Line] = [("G", None, 1, self.price("G", day) + excess)]
        if extra is not None:
            lines.append((extra[0], None, 1, self.price(extra[0], day)))
        lines.append(("MHP", None, 1, self.price("MHP", day)))
        pat = self.own_patient(p) if treat else self.patient()
        self.emit(p, pat, day, minute, setting, reg, treat, urgent, None, None, None, opp_cell,
                  lines)  # fmt: skip

    def gp_regulated_pdsa(self, p: Provider, day: int) -> None:
        r = self.random()
        if r < 0.4:
            code, minute = "CRN", 1200 + 5 * int(self.random() * 48)
        elif r < 0.6:
            code, minute = "CRM", 5 * int(self.random() * 96)  # 00:00-07:55
        elif r < 0.8:
            day, minute = _to_weekday(day, SUNDAY), 480 + 5 * int(self.random() * 144)
            code = "CRD"
        else:
            day, minute = _to_weekday(day, SATURDAY), 840 + 5 * int(self.random() * 72)
            code = "CRS"
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            (code, None, 1, self.price(code, day)),
        ]
        setting = DOM if self.random() < 0.5 else CAB
        self.emit(p, self.patient(), day, minute, setting, "15", False, False, None, None,
                  None, opp, lines)  # fmt: skip

    def gp_mic(self, p: Provider, day: int) -> None:
        code = "MIC" if self.random() < 0.5 else "MSH"
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            (code, None, 1, self.price(code, day)),
        ]
        self.emit(p, self.own_patient(p), day, self.office(day), CAB, None, True, False, None,
                  None, None, opp, lines)  # fmt: skip

    def gl_patient(self, day: int, code: int, elderly: bool = True) -> int | None:
        """A patient without this GL code this year (and aged 80 or more, unless not
        `elderly`); the code is then booked for them."""
        year = _year(day) - 2024
        for _ in range(20):
            pat = self.elderly() if elderly else self.young()
            key = (pat * 4 + year) * 4 + code
            if key not in self.gl_used:
                self.gl_used.add(key)
                return pat
        return None

    def gp_gl(self, p: Provider, day: int, *, treat: bool = True, elderly: bool = True,
              extra: str | None = None) -> bool:  # fmt: skip
        code = int(self.random() * 3)
        pat = self.gl_patient(day, code, elderly)
        if pat is None:
            return False
        self.gl_claim(p, day, pat, code, treat=treat, extra=extra)
        return True

    def gl_claim(self, p: Provider, day: int, pat: int, code: int, *, treat: bool = True,
                 extra: str | None = None) -> None:  # fmt: skip
        opp, excess = self.bill(p)
        lines: list[Line] = [
            (GL_CODES[code], None, 1, self.price(GL_CODES[code], day, "60.00") + excess)
        ]
        if extra is not None:
            lines.append((extra, None, 1, self.price(extra, day)))
        setting = DOM if self.random() < 0.2 else CAB
        self.emit(p, pat, day, self.office(day), setting, None, treat, False, None, None, None,
                  opp, lines)  # fmt: skip

    def gp_ccam(self, p: Provider, day: int) -> None:
        codes = _GP_DEROGATIONS
        code = codes[int(self.random() * len(codes))]
        treat = self.random() < 0.65
        pat = self.own_patient(p) if treat else self.patient()
        if code == "GLQP012" and not self.book_spiro(pat, day):
            code = "NZJB001"
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            (code, None, 1, self.price(code, day)),
        ]
        self.emit(p, pat, day, self.office(day), CAB, None, treat, False, None, None, None,
                  opp, lines)  # fmt: skip

    def book_spiro(self, pat: int, day: int) -> bool:
        key = pat * 4 + _year(day) - 2024
        if key in self.spiro_used:
            return False
        self.spiro_used.add(key)
        return True

    def yyyy010(self, p: Provider, day: int, *, clean: bool) -> None:
        random = self.random
        if not clean:
            followup = None
        elif p.cpl_validated and random() < 0.5:
            followup = None
        else:
            followup = "urgences" if random() < 0.6 else "hospitalisation"
        minute = 5 * int(random() * 288)
        opp, _ = self.bill(p)
        self.emit(p, self.patient(), day, minute, DOM, None, False, True, followup, None, None,
                  opp, [("YYYY010", None, 1, self.price("YYYY010", day))])  # fmt: skip

    def coe(self, p: Provider, day: int) -> None:
        opp, excess = self.bill(p)
        self.emit(p, self.child(), day, self.office(day), CAB, None, p.kind == GP, False, None,
                  None, None, opp, [("COE", None, 1, self.price("COE", day) + excess)])  # fmt: skip

    def te2(self, p: Provider, day: int) -> None:
        qty = 2 if self.random() < 0.1 else 1
        self.emit(p, self.patient(), day, self.office(day), TLC, None, False, False, None, None,
                  None, None, [("TE2", None, qty, qty * self.price("TE2", day))])  # fmt: skip

    def referral(self, day: int, late: bool) -> int | None:
        if not late:
            return day - int(self.random() * 3)  # 0-2 calendar days: within every delay
        if self.random() < 0.2:
            return None
        return day - 14 - int(self.random() * 27)

    def psy(self, p: Provider) -> None:
        random = self.random
        day = self.day()
        r = random()
        if r < 0.01:
            return self.te2(p, day)
        code = "APY" if day >= D_REVAL and random() < 0.2 else "CNP"
        pat = self.child() if p.specialty == "75" else self.patient()
        with_mcy = r < 0.11
        setting, treat = self.choose_setting(p, day, False)
        opp, excess = self.bill(p)
        lines: list[Line] = [(code, None, 1, self.price(code, day) + excess)]
        ref_day = None
        if with_mcy:
            lines.append(("MCY", None, 1, self.price("MCY", day)))
            ref_day = self.referral(day, False)
        minute = self.office(day) if random() < 0.9 else self.evening()
        self.emit(p, pat, day, minute, setting, None, treat, False, None, ref_day, None, opp,
                  lines)  # fmt: skip

    def specialist(self, p: Provider) -> None:
        random = self.random
        day = self.day()
        kind = p.kind
        pat = self.child() if kind == PEDIA else self.patient()
        r = random()
        if r < 0.01:
            return self.te2(p, day)
        if kind == PEDIA and r < 0.35:
            return self.coe(p, day)
        opp, excess = self.bill(p)
        minute = self.office(day)
        derogations = _DEROGATIONS.get(kind)
        if derogations is not None and r < 0.30:
            code = derogations[int(random() * len(derogations))]
            if code == "GLQP012" and not self.book_spiro(pat, day):
                code = "GFQM001"
            consult = self.consultation(day)
            lines: list[Line] = [
                (consult, None, 1, self.price(consult, day) + excess),
                (code, None, 1, self.price(code, day)),
            ]
            self.emit(p, pat, day, minute, CAB, None, False, False, None, None, None, opp, lines)
            return
        solo = _SOLO.get(p.specialty)
        if solo is not None and r < 0.45:
            code = solo[int(random() * len(solo))]
            qty = 2 if random() < 0.02 else 1
            self.emit(p, pat, day, minute, CAB, None, False, False, None, None, None, opp,
                      [(code, None, qty, qty * self.price(code, day))])  # fmt: skip
            return
        consult = self.consultation(day)
        lines = [(consult, None, 1, self.price(consult, day) + excess)]
        ref_day = None
        if random() < 0.06:
            lines.append(("MCU", None, 1, self.price("MCU", day)))
            ref_day = self.referral(day, False)
            setting = CAB
        else:
            setting, _ = self.choose_setting(p, day, False)
            if consult == "CS" and setting == CAB and random() < 0.3:
                lines.append(("MCS", None, 1, self.price("MCS", day)))  # coordinated care
        self.emit(p, pat, day, minute, setting, None, False, False, None, ref_day, None, opp,
                  lines)  # fmt: skip

    def consultation(self, day: int) -> str:
        r = self.random()
        if r < 0.25:
            return "APC"
        if r < 0.27 and day >= D_REVAL:
            return "APU"
        return "CS"

    def technical(self, p: Provider) -> None:
        random = self.random
        day = self.day()
        pat = self.patient()
        opp, excess = self.bill(p)
        minute = self.office(day)
        if p.kind != RADIO and random() < 0.25:
            consult = self.consultation(day)
            setting, _ = self.choose_setting(p, day, False)
            self.emit(p, pat, day, minute, setting, None, False, False, None, None, None, opp,
                      [(consult, None, 1, self.price(consult, day) + excess)])  # fmt: skip
            return
        solo = _SOLO[p.specialty]
        code = solo[int(random() * len(solo))]
        qty = 2 if random() < 0.02 else 1
        amount = qty * self.price(code, day)
        if excess:
            amount += amount * 3 // 10
        mods = self.modifiers(p, day) if p.kind != RADIO else None
        self.emit(p, pat, day, minute, CAB, None, False, False, None, None, None, opp,
                  [(code, mods, qty, amount)])  # fmt: skip

    def modifiers(self, p: Provider, day: int) -> str | None:
        random = self.random
        mods = []
        if (p.sector == "1" or p.option == "OPTAM-ACO") and random() < 0.35:
            mods.append("K")
        if p.option == "OPTAM" and random() < 0.35:
            mods.append("T")
        if p.kind == ANAES and day >= D_2025 and _mod3_eligible(p) and random() < 0.3:
            mods.append("3")
        return " ".join(mods) if mods else None

    # -- injected violations: each returns the number of records a checker should report

    def _inject_snp_burst(self) -> int:
        p = self.any_of(self.gps)
        week = START + 7 * int(self.random() * (NDAYS // 7))
        key = p.index * 256 + (week - START) // 7
        wanted = 21 + int(self.random() * 8)
        while self.snp_weeks.get(key, 0) < wanted and self.target - self.lines >= 10:
            day = week + int(self.random() * 6)  # Monday-Saturday
            minute = self.office(day)
            opp, excess = self.bill(p)
            self.emit(p, self.patient(), day, minute, CAB, "SAS", False, False, None, None,
                      None, opp, [("G", None, 1, self.price("G", day) + excess),
                                  ("SNP", None, 1, self.price("SNP", day))])  # fmt: skip
        return 0  # counted at the end, from the weekly counts

    def _snp_claim(self, p: Provider, day: int, reg: str | None, treat: bool) -> int:
        if not self.snp_ok(p, day):
            self.clean()
            return 0
        opp, excess = self.bill(p)
        pat = self.own_patient(p) if treat else self.patient()
        self.emit(p, pat, day, self.office(day), CAB, reg, treat, False, None, None, None, opp,
                  [("G", None, 1, self.price("G", day) + excess),
                   ("SNP", None, 1, self.price("SNP", day))])  # fmt: skip
        return 1

    def _inject_snp_mt(self) -> int:
        return self._snp_claim(self.any_of(self.gps), self.day(), "SAS", True)

    def _inject_snp_reg(self) -> int:
        reg = "15" if self.random() < 0.2 else None
        return self._snp_claim(self.any_of(self.gps), self.day(), reg, False)

    def _she_claim(self, p: Provider, day: int, minute: int | None, *, with_snp: bool = True,
                   reg: str | None = "SAS") -> int:  # fmt: skip
        if with_snp and not self.snp_ok(p, day):
            self.clean()
            return 0
        opp, excess = self.bill(p)
        lines: list[Line] = [("G", None, 1, self.price("G", day) + excess)]
        if with_snp:
            lines.append(("SNP", None, 1, self.price("SNP", day)))
        lines.append(("SHE", None, 1, self.price("SHE", day, "5.00")))
        self.emit(p, self.patient(), day, minute, CAB, reg, False, False, None, None, None, opp,
                  lines)  # fmt: skip
        return 1

    def _inject_she_hours(self) -> int:
        day = self.between(D_REVAL, END)
        r = self.random()
        if r < 0.25:
            minute = None
        elif r < 0.6:
            minute = 1080 + 5 * int(self.random() * 12)  # 18:00-18:55
        else:
            minute = 1260 + 5 * int(self.random() * 24)  # 21:00-22:55
        return self._she_claim(self.any_of(self.gps), day, minute)

    def _inject_she_with(self) -> int:
        day = self.between(D_REVAL, END)
        reg = "SAS" if self.random() < 0.5 else None
        return self._she_claim(self.any_of(self.gps), day, self.evening(), with_snp=False, reg=reg)

    def _inject_she_date(self) -> int:
        day = self.between(START, D_REVAL - 1)
        return self._she_claim(self.any_of(self.gps), day, self.evening())

    def _inject_she_psy(self) -> int:
        p = self.any_of(self.psys)
        day = self.between(D_REVAL, END)
        if not self.snp_ok(p, day):
            self.clean()
            return 0
        opp, excess = self.bill(p)
        lines: list[Line] = [
            ("CNP", None, 1, self.price("CNP", day) + excess),
            ("MCY", None, 1, self.price("MCY", day)),
            ("SNP", None, 1, self.price("SNP", day)),
            ("SHE", None, 1, self.price("SHE", day)),
        ]
        self.emit(p, self.patient(), day, self.evening(), CAB, "SAS", False, False, None,
                  self.referral(day, False), None, opp, lines)  # fmt: skip
        return 1

    def _inject_mrt_mt(self) -> int:
        p = self.any_of(self.gps)
        day = self.day()
        r = self.random()
        treat, reg = (False, "15") if r < 0.6 else (True, "SAS") if r < 0.8 else (True, None)
        opp, excess = self.bill(p)
        pat = self.own_patient(p) if treat else self.patient()
        self.emit(p, pat, day, self.office(day), CAB, reg, treat, False, None, None, None, opp,
                  [("G", None, 1, self.price("G", day) + excess),
                   ("MRT", None, 1, self.price("MRT", day))])  # fmt: skip
        return 1

    def _inject_mhp_cumul(self) -> int:
        p = self.any_of(self.gps_opp)
        day = self.day()
        r = self.random()
        if r < 0.4:
            self.gp_mhp(p, day, ("MN", None, 1, 0), urgent=True)
        elif r < 0.7:
            self.gp_mhp(p, day, ("CRN", None, 1, 0), reg="15", treat=False)
        elif r < 0.85:
            if not self.snp_ok(p, day):
                self.clean()
                return 0
            self.gp_mhp(p, day, ("SNP", None, 1, 0), reg="SAS", treat=False)
        else:
            self.gp_mhp(p, day, ("MRT", None, 1, 0), reg="15", treat=True)
        return 1

    def _inject_mhp_hours(self) -> int:
        self.gp_mhp(self.any_of(self.gps_opp), self.day(), office_hours=True)
        return 1

    def _inject_mhp_opp(self) -> int:
        self.gp_mhp(self.any_of(self.gps_s2), self.day())
        return 1

    def _mvr_claim(self, p: Provider, day: int, *, setting: str = DOM, reg: str | None = "SAS",
                   late: bool = False) -> int:  # fmt: skip
        random = self.random
        minute = self.office(day)
        if late:
            if random() < 0.3:
                ref_day, ref_minute = day - 1 - int(random() * 2), None
            else:
                ref_day, ref_minute = self.sas_call(day, minute, 25.0, 72.0)
        else:
            ref_day, ref_minute = self.sas_call(day, minute, 0.5, 23.0)
        opp, excess = self.bill(p) if p.opp_mode == 2 else (None, 0)
        lines: list[Line] = [
            ("G", None, 1, self.price("G", day) + excess),
            ("MVR", None, 1, self.price("MVR", day, "10.00")),
        ]
        self.emit(p, self.patient(), day, minute, setting, reg, False, False, None, ref_day,
                  ref_minute, opp if opp is not True else None, lines)  # fmt: skip
        return 1

    def _inject_mvr_date(self) -> int:
        return self._mvr_claim(self.any_of(self.gps_opp), self.between(START, D_2026 - 1))

    def _inject_mvr_cond(self) -> int:
        day = self.between(D_2026, END)
        r = self.random()
        if r < 0.4:
            return self._mvr_claim(self.any_of(self.gps_opp), day, setting=CAB)
        if r < 0.7:
            return self._mvr_claim(self.any_of(self.gps_opp), day, reg=None)
        return self._mvr_claim(self.any_of(self.gps_s2), day)

    def _inject_mvr_delay(self) -> int:
        return self._mvr_claim(self.any_of(self.gps_opp), self.between(D_2026, END), late=True)

    def _inject_mcu_delay(self) -> int:
        p = self.any_of(self.apc_pool)
        day = self.day()
        opp, excess = self.bill(p)
        consult = self.consultation(day)
        self.emit(p, self.patient(), day, self.office(day), CAB, None, False, False, None,
                  self.referral(day, True), None, opp,
                  [(consult, None, 1, self.price(consult, day) + excess),
                   ("MCU", None, 1, self.price("MCU", day))])  # fmt: skip
        return 1

    def _inject_mcy_delay(self) -> int:
        p = self.any_of(self.psys)
        day = self.day()
        opp, excess = self.bill(p)
        self.emit(p, self.patient(), day, self.office(day), CAB, None, False, False, None,
                  self.referral(day, True), None, opp,
                  [("CNP", None, 1, self.price("CNP", day) + excess),
                   ("MCY", None, 1, self.price("MCY", day))])  # fmt: skip
        return 1

    def _inject_urg_justif(self) -> int:
        self.gp_urgent(self.any_of(self.gps), self.between(D_REVAL, END - 7), urgent=False)
        return 1

    def _inject_tlc_urg(self) -> int:
        self.gp_urgent(self.any_of(self.gps), self.between(D_REVAL, END - 7), tlc=True)
        return 1

    def _inject_yyyy010(self) -> int:
        self.yyyy010(self.any_of(self.gps_no_cpl), self.between(D_TLC, END), clean=False)
        return 1

    def _tarif(self, over: bool) -> int:
        random = self.random
        specialist = random() < 0.2
        p = self.any_of(self.apc_pool if specialist else self.gps_opp)
        code = "APC" if specialist else "G"
        day = self.day()
        right = self.price(code, day)
        if over:
            if day < D_REVAL and random() < 0.5:
                amount = self.price(code, D_REVAL)  # the new tariff, billed too early
            else:
                amount = right + (200, 300, 500, 1000)[int(random() * 4)]
        elif day >= D_REVAL and random() < 0.6:
            amount = self.price(code, START)  # the old tariff, never updated
        else:
            amount = right - (150, 200, 500)[int(random() * 3)]
        treat = code == "G" and random() < 0.65
        pat = self.own_patient(p) if treat else self.patient()
        self.emit(p, pat, day, self.office(day), CAB, None, treat, False, None, None, None, None,
                  [(code, None, 1, amount)])  # fmt: skip
        return 1

    def _inject_tarif_over(self) -> int:
        return self._tarif(True)

    def _inject_tarif_under(self) -> int:
        return self._tarif(False)

    def _inject_gl_date(self) -> int:
        p = self.any_of(self.gps)
        day = self.between(START, D_2026 - 1)
        self.gl_claim(p, day, self.elderly(), int(self.random() * 3))
        return 1

    def _gl_2026(self, **kwargs: Any) -> int:
        p = self.any_of(self.gps)
        if not self.gp_gl(p, self.between(D_2026, END), **kwargs):
            self.clean()
            return 0
        return 1

    def _inject_gl_age(self) -> int:
        return self._gl_2026(elderly=False)

    def _inject_gl_mt(self) -> int:
        return self._gl_2026(treat=False)

    def _inject_gl_cumul(self) -> int:
        return self._gl_2026(extra="MIC" if self.random() < 0.5 else "MSH")

    def _inject_gl_freq(self) -> int:
        p = self.any_of(self.gps)
        first, second = sorted((self.between(D_2026, END), self.between(D_2026, END)))
        code = int(self.random() * 3)
        pat = self.gl_patient(first, code)
        if pat is None:
            self.clean()
            return 0
        self.gl_claim(p, first, pat, code)
        self.gl_claim(p, second, pat, code)
        return 1

    def _inject_cumul_ccam(self) -> int:
        p = self.any_of(self.cumul_pool)
        day = self.between(D_REVAL, END)
        solo = _SOLO[p.specialty]
        code = solo[int(self.random() * len(solo))]
        consult = "G" if p.kind == GP else "APC"
        self.emit(p, self.patient(), day, self.office(day), CAB, None, False, False, None, None,
                  None, None, [(consult, None, 1, self.price(consult, day)),
                               (code, None, 1, self.price(code, day))])  # fmt: skip
        return 1

    def _inject_spiro_freq(self) -> int:
        p = self.any_of(self.spiro_pool)
        start = self.between(D_2025, END)
        year_start, year_end = (D_2025, D_2026 - 1) if start < D_2026 else (D_2026, END)
        first, second = sorted(
            (self.between(year_start, year_end), self.between(year_start, year_end))
        )
        pat = self.patient()
        if not self.book_spiro(pat, first):
            self.clean()
            return 0
        consult = "G" if p.kind == GP else "APC"
        for day in (first, second):
            opp, excess = self.bill(p)
            self.emit(p, pat, day, self.office(day), CAB, None, False, False, None, None, None,
                      opp, [(consult, None, 1, self.price(consult, day) + excess),
                            ("GLQP012", None, 1, self.price("GLQP012", day))])  # fmt: skip
        return 1

    def _mod_claim(self, p: Provider, day: int, mod: str) -> int:
        solo = _SOLO[p.specialty]
        code = solo[int(self.random() * len(solo))]
        opp, excess = self.bill(p)
        amount = self.price(code, day)
        if excess:
            amount += amount * 3 // 10
        self.emit(p, self.patient(), day, self.office(day), CAB, None, False, False, None, None,
                  None, opp, [(code, mod, 1, amount)])  # fmt: skip
        return 1

    def _inject_mod_k(self) -> int:
        return self._mod_claim(self.any_of(self.mod_k_pool), self.day(), "K")

    def _inject_mod_t(self) -> int:
        return self._mod_claim(self.any_of(self.mod_t_pool), self.day(), "T")

    def _inject_mod_3(self) -> int:
        if self.random() < 0.5:
            return self._mod_claim(self.any_of(self.surgeons), self.between(D_2025, END), "3")
        return self._mod_claim(self.any_of(self.anaes_3), self.between(START, D_2025 - 1), "3")

    # -- end of run

    def aggregate_counts(self) -> None:
        """Records the aggregate rules should report, from the final counts."""
        snp = sum(c - 20 for c in self.snp_weeks.values() if c > 20)
        psy = other = 0
        for p in self.providers:
            for period in (1, 2, 3):  # the caps apply from 2024-06-22, per calendar year
                k = p.index * 4 + period
                excess = self.tlc_t[k] - p.tlc_cap * self.tlc_n[k] // 100
                if excess > 0:
                    if p.kind == PSY:
                        psy += excess
                    else:
                        other += excess
        derog = sum(
            1
            for p in self.providers
            if p.derogation is not None and (p.derogation > 50 or p.kind != PSY)
        )
        for rule, count in (("SNP-CAP", snp), ("TLC-CAP-PSY", psy), ("TLC-CAP", other),
                            ("TLC-DEROG", derog)):  # fmt: skip
            if count:
                self.injected[rule] = self.injected.get(rule, 0) + count

    # -- Arrow

    def _table(self) -> Any:
        import pyarrow as pa
        import pyarrow.compute as pc

        n = len(self.line_rows)
        n_claims = len(self.claim_rows)
        first_line = self.lines - n + 1
        first_claim = self.claims - n_claims + 1
        rows, line_rows = self.claim_rows, self.line_rows
        (prov, patients, days, minutes, settings, regs, treats, urgents, followups, ref_days,
         ref_minutes, opps) = (list(map(itemgetter(i), rows)) for i in range(12))  # fmt: skip
        codes, mods, quantities, cents = (list(map(itemgetter(i), line_rows)) for i in range(4))
        width = self.width

        def ids(prefix: str, first: int, count: int) -> Any:
            numbers = pa.array(range(first, first + count), pa.int64()).cast(pa.string())
            return pc.binary_join_element_wise(
                prefix, pc.utf8_lpad(numbers, width=width, padding="0"), ""
            )

        claim_index = pa.array(self.line_claims, pa.int32())
        providers = self.provider_table.take(pa.array(prov, pa.int32()).take(claim_index))
        patient_index = pa.array(patients, pa.int64())
        if self.birth_dates is None:
            self.birth_dates = self.pop.birth_dates()
        claims = pa.table(
            {
                "claim_id": ids("C", first_claim, n_claims),
                "patient_id": self.pop.patient_ids(patient_index),
                "patient_birth_date": self.birth_dates.take(patient_index),
                "service_date": pa.array(days, pa.int32()).cast(pa.date32()),
                "service_time": _times(pa, minutes),
                "opposable": pa.array(opps, pa.bool_()),
                "setting": pa.array(settings, pa.string()),
                "regulation": pa.array(regs, pa.string()),
                "treating_doctor": pa.array(treats, pa.bool_()),
                "urgent": pa.array(urgents, pa.bool_()),
                "followup": pa.array(followups, pa.string()),
                "referral_date": pa.array(ref_days, pa.int32()).cast(pa.date32()),
                "referral_time": _times(pa, ref_minutes),
            }
        ).take(claim_index)
        words = array("q", bytes(16 * n))
        words[0::2] = array("q", cents)  # amounts are never negative: the high words stay 0
        amounts = pa.Array.from_buffers(pa.decimal128(18, 2), n, [None, pa.py_buffer(words)])
        columns = {
            "line_id": ids("L", first_line, n),
            "claim_id": claims["claim_id"],
            "provider_id": providers["provider_id"],
            "provider_specialty": providers["provider_specialty"],
            "provider_sector": providers["provider_sector"],
            "provider_option": providers["provider_option"],
            "patient_id": claims["patient_id"],
            "patient_birth_date": claims["patient_birth_date"],
            "service_date": claims["service_date"],
            "service_time": claims["service_time"],
            "act_code": pa.array(codes, pa.string()),
            "modifiers": pa.array(mods, pa.string()),
            "quantity": pa.array(quantities, pa.int64()),
            "amount": amounts,
            "opposable": claims["opposable"],
            "setting": claims["setting"],
            "regulation": claims["regulation"],
            "treating_doctor": claims["treating_doctor"],
            "urgent": claims["urgent"],
            "followup": claims["followup"],
            "referral_date": claims["referral_date"],
            "referral_time": claims["referral_time"],
        }
        return pa.table(columns, schema=claims_schema())


def _mod3_eligible(p: Provider) -> bool:
    return (p.sector == "1" and p.option != "OPTAM-ACO") or (
        p.sector == "2" and p.option == "OPTAM-ACO"
    )


def _to_weekday(day: int, weekday: int) -> int:
    """The first `weekday` on or after `day`, or the one before if that leaves the period."""
    day += (weekday - _weekday(day)) % 7
    return day - 7 if day > END else day


def _cents(euros: str) -> int:
    whole, _, fraction = euros.partition(".")
    return int(whole) * 100 + int((fraction + "00")[:2])


def _times(pa: Any, minutes: tuple[int | None, ...]) -> Any:
    return pa.array([None if m is None else m * 60 for m in minutes], pa.time32("s"))


# --- Schemas and sinks ----------------------------------------------------------------------


def claims_schema() -> Any:
    """The Arrow schema of generated claim lines (DESIGN.md columns, in contract order)."""
    import pyarrow as pa

    text, date, time = pa.string(), pa.date32(), pa.time32("s")
    return pa.schema(
        [
            ("line_id", text),
            ("claim_id", text),
            ("provider_id", text),
            ("provider_specialty", text),
            ("provider_sector", text),
            ("provider_option", text),
            ("patient_id", text),
            ("patient_birth_date", date),
            ("service_date", date),
            ("service_time", time),
            ("act_code", text),
            ("modifiers", text),
            ("quantity", pa.int64()),
            ("amount", pa.decimal128(18, 2)),
            ("opposable", pa.bool_()),
            ("setting", text),
            ("regulation", text),
            ("treating_doctor", pa.bool_()),
            ("urgent", pa.bool_()),
            ("followup", text),
            ("referral_date", date),
            ("referral_time", time),
        ]
    )


def providers_table(pop: Population) -> Any:
    """The provider reference table (DESIGN.md columns)."""
    import pyarrow as pa

    ps = pop.providers
    derogation = pa.array(
        [None if p.derogation is None else Decimal(p.derogation) for p in ps],
        pa.decimal128(18, 2),
    )
    return pa.table(
        {
            "provider_id": pa.array([p.id for p in ps], pa.string()),
            "tlc_cap_derogation": derogation,
            "yyyy010_cpl_validated": pa.array([p.cpl_validated for p in ps], pa.bool_()),
            "zone": pa.array([p.zone for p in ps], pa.string()),
            "first_installation_date": pa.array([p.installed for p in ps], pa.int32()).cast(
                pa.date32()
            ),
            "birth_date": pa.array([p.birth for p in ps], pa.int32()).cast(pa.date32()),
            "provider_sector": pa.array([p.sector for p in ps], pa.string()),
            "provider_option": pa.array([p.option or None for p in ps], pa.string()),
        }
    )


def _csv_text(table: Any) -> Any:
    """Every column as the text of examples/claims.csv: ISO dates, HH:MM, decimal comma."""
    import pyarrow as pa
    import pyarrow.compute as pc

    columns = []
    for field, column in zip(table.schema, table.columns, strict=True):
        kind = field.type
        if pa.types.is_string(kind):
            text = column
        elif pa.types.is_time(kind):
            text = pc.utf8_slice_codeunits(column.cast(pa.string()), 0, 5)
        elif pa.types.is_decimal(kind):
            text = pc.replace_substring(column.cast(pa.string()), ".", ",")
            if field.name == "tlc_cap_derogation":
                text = pc.replace_substring(text, ",00", "")
        else:
            text = column.cast(pa.string())
        columns.append(text)
    return pa.table(columns, names=table.column_names)


class _ParquetSink:
    def __init__(self, path: Path, schema: Any) -> None:
        import pyarrow.parquet as pq

        self.writer = pq.ParquetWriter(str(path), schema, compression="zstd")

    def write(self, table: Any) -> None:
        self.writer.write_table(table, row_group_size=table.num_rows)

    def close(self) -> None:
        self.writer.close()


class _CsvSink:
    def __init__(self, path: Path, schema: Any) -> None:
        import pyarrow as pa
        import pyarrow.csv as csv

        text_schema = pa.schema([(f.name, pa.string()) for f in schema])
        options = csv.WriteOptions(
            delimiter=";", quoting_style="none", quoting_header="none", eol="\r\n"
        )
        self.writer = csv.CSVWriter(str(path), text_schema, write_options=options)

    def write(self, table: Any) -> None:
        self.writer.write_table(_csv_text(table))

    def close(self) -> None:
        self.writer.close()


_SINKS = {".csv": _CsvSink, ".parquet": _ParquetSink}


def default_providers_path(out: Path) -> Path:
    """`<stem>-providers.<ext>` beside the claims file."""
    return out.with_name(f"{out.stem}-providers{out.suffix}")


@contextlib.contextmanager
def _atomic(path: Path) -> Any:
    """A temporary file beside `path`, renamed onto it only when writing succeeded."""
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    tmp.touch(exist_ok=False)  # the usual permissions (umask), unlike mkstemp's 0600
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _sink_for(path: Path) -> type:
    sink = _SINKS.get(path.suffix.lower())
    if sink is None:
        raise ClaimlintError(f"{path} : format inconnu (attendu un fichier .csv ou .parquet)")
    return sink


def generate(
    lines: int,
    seed: int,
    out: Path,
    providers_out: Path | None = None,
    *,
    chunk_lines: int = CHUNK_LINES,
    violation_scale: float = 1.0,
) -> GenerationReport:
    """Write `lines` claim lines to `out` and the provider reference table to `providers_out`
    (default `<stem>-providers.<ext>` beside `out`), CSV or Parquet by extension.

    Both files appear whole or not at all (temporary file, then rename).
    """
    out = Path(out)
    providers_out = default_providers_path(out) if providers_out is None else Path(providers_out)
    if lines < 1:
        raise ClaimlintError("le nombre de lignes doit être au moins 1")
    claims_sink, providers_sink = _sink_for(out), _sink_for(providers_out)
    for path in (out, providers_out):
        if not path.parent.is_dir():
            raise ClaimlintError(f"{path.parent} : dossier introuvable")
    if out.resolve() == providers_out.resolve():
        raise ClaimlintError(f"{out} : le référentiel ne peut pas remplacer les lignes")

    import pyarrow as pa

    rng = random.Random(seed)
    n_providers = min(max(60, lines // 400), 30_000)
    n_patients = max(500, lines // 4)
    pop = Population.build(rng, n_providers, n_patients)
    reference = providers_table(pop)
    line_columns = pa.table(
        {
            "provider_id": reference["provider_id"],
            "provider_specialty": pa.array([p.specialty for p in pop.providers], pa.string()),
            "provider_sector": reference["provider_sector"],
            "provider_option": reference["provider_option"],
        }
    )
    if not 0 < violation_scale * INJECT_TOTAL <= 1:
        raise ClaimlintError(
            f"--violation-scale {violation_scale} : le taux total d'injection doit rester "
            f"entre 0 et 100 % (au plus {1 / INJECT_TOTAL:.0f})"
        )
    gen = _Generator(rng, pop, lines, line_columns, violation_scale)

    with _atomic(out) as tmp_out, _atomic(providers_out) as tmp_providers:
        sink = claims_sink(tmp_out, claims_schema())
        try:
            while gen.lines < lines:
                gen.claim()
                if len(gen.line_rows) >= chunk_lines:
                    gen.flush(sink)
            gen.flush(sink)
        finally:
            sink.close()
        ref_sink = providers_sink(tmp_providers, reference.schema)
        try:
            ref_sink.write(reference)
        finally:
            ref_sink.close()
    gen.aggregate_counts()
    return GenerationReport(
        lines=gen.lines,
        claims=gen.claims,
        providers=len(pop.providers),
        patients=pop.patients,
        seed=seed,
        out=out,
        providers_out=providers_out,
        injected={rule: gen.injected[rule] for rule in RULES if rule in gen.injected},
        rates=tuple(
            attrs.evolve(r, rate=r.rate * violation_scale) if r.unit == "claims" else r
            for r in INJECTIONS
        ),
    )

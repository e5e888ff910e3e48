"""Generate data/applications.csv: 2,000 synthetic loan applications.

The records look like a pseudonymised core-banking export but describe nobody:
every value comes from a seeded numpy generator, so the file is byte-for-byte
reproducible and its sha256 can be pinned in mlproject.yaml.

- customer_id: a keyed hash of a row number, as the export would carry (16 hex digits).
- postcode: coarsened to a 3-character district.
- default: drawn from a logistic model of affordability (loan / income), late
  payments, credit history, term and age, plus noise. Gender has no effect on
  default and is drawn independently of the other columns, so a model that does
  not see gender treats both groups alike (the fairness gate checks it does).
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

import numpy as np

from common import COLUMNS, DATA_PATH

N_ROWS = 2000
SEED = 20261031
# A real export is keyed with a secret kept outside the repository; this example's key is public.
PSEUDONYM_KEY = b"mlci-example-not-a-secret"
DISTRICTS = [f"{letter}{number:02d}" for letter in "BFHKLMS" for number in (1, 4, 7, 12, 15, 21)]


def pseudonym(row: int) -> str:
    return hashlib.sha256(PSEUDONYM_KEY + f"customer-{row:06d}".encode()).hexdigest()[:16]


def generate(rng: np.random.Generator) -> list[list[str]]:
    n = N_ROWS
    age = np.clip(rng.normal(41, 12, n), 18, 75).astype(int)
    gender = rng.choice(["F", "M"], n)
    postcode = rng.choice(DISTRICTS, n)
    # Income rises a little with age; yearly, in euros, rounded to 100.
    raw_income = np.exp(rng.normal(np.log(42_000), 0.45, n)) * (1 + 0.008 * (age - 41))
    income = np.round(np.clip(raw_income, 12_000, 250_000), -2)
    loan_amount = np.round(np.clip(income * rng.uniform(0.05, 1.0, n), 1_000, None), -2)
    term_months = rng.choice([12, 24, 36, 48, 60, 72], n)
    credit_history_years = np.round(np.minimum(age - 18, rng.gamma(2.0, 4.0, n)), 1)
    n_late_payments = rng.poisson(0.3 + 1.2 * np.exp(-credit_history_years / 4), n)

    logit = (
        -1.5
        + 6.0 * (loan_amount / income - 0.5)
        + 1.1 * n_late_payments
        - 0.15 * (credit_history_years - 8)
        + 0.03 * (term_months - 42)
        - 0.03 * (age - 41)
        + rng.normal(0, 0.4, n)
    )
    default = (rng.uniform(size=n) < 1 / (1 + np.exp(-logit))).astype(int)

    return [
        [pseudonym(i), str(age[i]), postcode[i], gender[i], f"{income[i]:.0f}", f"{loan_amount[i]:.0f}",
         str(term_months[i]), f"{credit_history_years[i]:.1f}", str(n_late_payments[i]), str(default[i])]
        for i in range(n)
    ]  # fmt: skip


def main() -> None:
    rows = generate(np.random.default_rng(SEED))
    out = Path(DATA_PATH)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    defaults = sum(row[-1] == "1" for row in rows)
    print(f"wrote {out} ({len(rows)} rows, {defaults} defaults), sha256 {digest}")


if __name__ == "__main__":
    main()

"""Remove data subjects from data/applications.csv (right to erasure, GDPR Art. 17).

    python erase.py 06663fc0c24edd80 [more pseudonymised customer ids...]

Takes pseudonymised customer ids, never names or account numbers, rewrites the
dataset without those rows (atomically), and prints the new sha256 to pin in
mlproject.yaml. Exit 0 when every id was found and removed, 1 when some id was not
in the dataset (nothing else changes for those), 2 on bad input. The whole
procedure, including retraining, is in docs/erasure.md.
"""

from __future__ import annotations

import csv
import hashlib
import os
import re
import sys
import tempfile
from pathlib import Path

from common import DATA_PATH, fail

PSEUDONYM = re.compile(r"[0-9a-f]{16}")


def main(argv: list[str]) -> int:
    if not argv:
        fail("usage: python erase.py CUSTOMER_ID [CUSTOMER_ID...]")
    wanted = set(argv)
    malformed = [i for i in wanted if not PSEUDONYM.fullmatch(i)]
    if malformed:
        # Not echoed: a malformed argument may be a name or an account number.
        fail(f"{len(malformed)} argument(s) are not pseudonymised customer ids (16 lowercase hex digits)")
    path = Path(DATA_PATH)
    if not path.is_file():
        fail(f"{path} not found")
    with path.open(newline="", encoding="utf-8") as source:
        reader = csv.reader(source)
        header = next(reader)
        rows = list(reader)
    id_column = header.index("customer_id")
    kept = [row for row in rows if row[id_column] not in wanted]
    found = {row[id_column] for row in rows} & wanted

    # Write to a temporary file and rename, so a crash never leaves half a dataset.
    with tempfile.NamedTemporaryFile(
        "w", newline="", encoding="utf-8", dir=path.parent, delete=False, suffix=".tmp"
    ) as target:
        writer = csv.writer(target, lineterminator="\n")
        writer.writerow(header)
        writer.writerows(kept)
    os.chmod(target.name, path.stat().st_mode)  # temporary files are created 0600
    os.replace(target.name, path)

    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    removed = len(rows) - len(kept)
    print(f"removed {removed} rows for {len(found)} of {len(wanted)} ids; {path} sha256 {digest}")
    for missing in sorted(wanted - found):
        print(f"not found: {missing}", file=sys.stderr)
    return 0 if found == wanted else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

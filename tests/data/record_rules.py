"""Record every expanded rule of every form spec as JSON (tests/data/expanded-rules-<form>.json).

The files were recorded from the spec loader before the yaml gained its compact constructs
(NB204 written once for three column groups); test_spec checks that the loader still expands
the specs to exactly these rules. Re-run only when a rule is meant to change:

    python tests/data/record_rules.py
"""

from __future__ import annotations

import json
from pathlib import Path

from nianbao.spec import Spec, all_specs

HERE = Path(__file__).resolve().parent


def expanded(spec: Spec) -> list[dict]:
    """The spec's rules, fully expanded, as plain data (in the loader's order)."""

    def terms(ts) -> list[str]:
        return [("-" if t.sign < 0 else "") + ("prev:" if t.prev else "") + t.cell for t in ts]

    return [
        {
            "code": r.code,
            "name": r.name,
            "severity": str(r.severity),
            "table": r.table.key,
            "op": str(getattr(r.op, "name", r.op)),
            "lhs": terms(r.lhs),
            "rhs": terms(r.rhs),
            "target": r.target,
            "message": r.message,
        }
        for r in spec.rules
    ]


def record_path(spec: Spec) -> Path:
    return HERE / f"expanded-rules-{spec.version}.json"


def main() -> None:
    for spec in all_specs():
        text = json.dumps(expanded(spec), ensure_ascii=False, indent=1) + "\n"
        record_path(spec).write_text(text, encoding="utf-8")
        print(record_path(spec))


if __name__ == "__main__":
    main()

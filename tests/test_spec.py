"""The form specs: structure, stable keys, validation errors, agreement with the reference."""

import re
from pathlib import Path

import pytest
import yaml

from nianbao.layout import workbook_layout
from nianbao.spec import SpecError, all_specs, get_spec, load_spec

REFERENCE = Path(__file__).resolve().parents[2] / "shared" / "reference" / "official-format.md"


def test_cell_counts_match_the_official_forms():
    s21, s19 = get_spec("2021"), get_spec("2019")
    count = lambda s, t: sum(1 for c in s.cells.values() if c.table.key == t)  # noqa: E731
    # 表二 10 value cells (2021); 表三 25x7 / 23x7; 表四 15
    assert (count(s21, "t2"), count(s21, "t3"), count(s21, "t4")) == (10, 175, 15)
    assert (count(s19, "t3"), count(s19, "t4")) == (161, 15)


def test_keys_are_ascii_defined_names_and_shared_across_forms():
    s21, s19 = get_spec("2021"), get_spec("2019")
    for s in (s21, s19):
        for key in s.cells:
            assert re.fullmatch(r"nb_[a-z0-9_]+", key)
    shared = set(s21.cells) & set(s19.cells)
    # every 表三 cell but the three （六） sub-rows, all of 表四 and the 处理决定 cells are shared
    assert {
        k
        for k in s21.cells
        if (k.startswith("nb_t3_") and "_other_" not in k) or k.startswith("nb_t3_other_org")
    } <= shared
    assert {k for k in s21.cells if k.startswith("nb_t4_")} <= shared
    for key in shared:
        a, b = s21.cells[key], s19.cells[key]
        assert (a.row.key, a.col.key) == (b.row.key, b.col.key)


def test_rule_targets_exist_and_errors_cover_every_total(spec):
    codes = {r.code for r in spec.rules}
    assert {"NB201", "NB202", "NB203", "NB204", "NB301"} <= codes
    for r in spec.rules:
        assert r.target in spec.cells
        assert r.severity in ("error", "warning")
    t3_rows = {c.row.key for c in spec.cells.values() if c.table.key == "t3"}
    row_total_rules = [r for r in spec.rules if r.code == "NB201"]
    assert len(row_total_rules) == len(t3_rows)


def test_spec_labels_agree_with_the_reference(spec):
    if not REFERENCE.exists():
        pytest.skip("未找到 ../shared/reference/official-format.md")
    text = REFERENCE.read_text(encoding="utf-8")
    quoted = set(re.findall(r"`([^`]+)`", text))
    labels = set().union(*(t.labels() for t in spec.tables))
    missing = [lab for lab in labels if lab not in quoted and lab not in text]
    assert not missing, missing


def _table_labels(table) -> set[str]:
    return table.labels()


def _reference_tables() -> dict[str, list[str]]:
    """Section heading number (e.g. '1.3') -> the table rows (lines starting with '|') under it."""
    out: dict[str, list[str]] = {}
    current = None
    for line in REFERENCE.read_text(encoding="utf-8").splitlines():
        m = re.match(r"#{2,3} (\d+(?:\.\d+)?)\b", line)
        if m:
            current = m.group(1)
        elif line.startswith("|") and current:
            out.setdefault(current, []).append(line)
    return out


def _quoted(lines) -> set[str]:
    return {q for line in lines for q in re.findall(r"`([^`]+)`", line)}


def test_spec_labels_equal_the_reference_tables():
    """Every label the reference's grids quote is in the spec's table, and nothing else is."""
    if not REFERENCE.exists():
        pytest.skip("未找到 ../shared/reference/official-format.md")
    ref = _reference_tables()
    s21, s19 = get_spec("2021"), get_spec("2019")
    for key, section in (("t2", "1.2"), ("t3", "1.3"), ("t4", "1.4")):
        assert _table_labels(s21.table(key)) == _quoted(ref[section]), key
    assert _table_labels(s19.table("t2")) == _quoted(ref["2.1"])
    assert _table_labels(s19.table("t4")) == _quoted(ref["1.4"])  # §2.3: identical to 2021
    # §2.2: 2019 表三 is 2021's without the three sub-items of （六）其他处理
    other_line = next(line for line in ref["1.3"] if "（六）其他处理" in line)
    sub_items = re.findall(r"`([^`]+)`", other_line)[1:]
    assert len(sub_items) == 3
    assert _table_labels(s19.table("t3")) == _quoted(ref["1.3"]) - set(sub_items)


def _write(tmp_path, mutate):
    raw = yaml.safe_load(get_spec("2021").path.read_text(encoding="utf-8"))
    mutate(raw)
    p = tmp_path / "bad.yaml"
    p.write_text(yaml.safe_dump(raw, allow_unicode=True), encoding="utf-8")
    return p


def test_duplicate_key_is_reported_with_file_and_entry(tmp_path):
    def dup(raw):
        rows = raw["tables"][0]["sections"][0]["rows"]
        rows.append(dict(rows[0]))

    p = _write(tmp_path, dup)
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert "bad.yaml" in str(e.value) and "重复" in str(e.value) and "item1" in str(e.value)


def test_rule_naming_unknown_cell_is_reported(tmp_path):
    def bad(raw):
        raw["rules"][0]["rhs"] = ["natural", "no_such_column"]

    p = _write(tmp_path, bad)
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert "no_such_column" in str(e.value) and "NB201" in str(e.value) and str(p) in str(e.value)


def test_malformed_header_tree_is_reported(tmp_path):
    def bad(raw):
        raw["tables"][1]["sections"][0]["columns"][0]["children"][0] = {"label": "自然人"}

    p = _write(tmp_path, bad)
    with pytest.raises(SpecError) as e:
        load_spec(p)
    assert "t3" in str(e.value) and "key" in str(e.value) and str(p) in str(e.value)


def test_layout_matches_the_reference_grid():
    lay = workbook_layout(get_spec("2021"))
    t3 = lay.table("t3")
    corner = next(b for b in t3.boxes if b.role == "corner")
    assert (corner.nrows, corner.ncols) == (3, 3)
    result = next(b for b in t3.boxes if b.key == "result")
    assert result.nrows == 22
    t4 = lay.table("t4")
    lit = next(b for b in t4.boxes if b.key == "litigation")
    assert lit.ncols == 10 and t4.width == 15
    t2 = lay.table("t2")
    assert t2.values["nb_t2_license_decisions"].ncols == 3


def test_all_specs_load():
    versions = sorted(s.version for s in all_specs())
    assert versions == ["2019", "2021"]


def _summary(spec):
    return (
        spec.version,
        [t.labels() for t in spec.tables],
        [(r.code, r.target, r.op) for r in spec.rules],
        list(spec.cells),
        spec.instructions,
        spec.prose,
        spec.digest,
    )


def test_parsed_spec_cache(tmp_path, monkeypatch):
    """The parsed spec is cached by content: the second load reads the cache and gives the same
    spec; a damaged entry, an edited file or an unusable cache folder only mean parsing again."""
    import marshal

    from nianbao import spec as spec_mod

    cache = tmp_path / "cache"
    monkeypatch.setenv("NIANBAO_CACHE_DIR", str(cache))
    src = get_spec("2021").path
    fresh = load_spec(src)
    entries = list(cache.glob("*.marshal"))
    assert len(entries) == 1 and not list(cache.glob("*.tmp"))
    assert marshal.loads(entries[0].read_bytes()) == yaml.safe_load(src.read_text(encoding="utf-8"))

    def no_yaml(*a, **k):
        raise AssertionError("YAML parsed although the cache holds the file")

    monkeypatch.setattr(yaml, "load", no_yaml)
    assert _summary(load_spec(src)) == _summary(fresh)
    monkeypatch.undo()
    monkeypatch.setenv("NIANBAO_CACHE_DIR", str(cache))

    entries[0].write_bytes(b"\x00garbage")  # damaged: parsed again and rewritten
    assert _summary(load_spec(src)) == _summary(fresh)
    assert marshal.loads(entries[0].read_bytes())["version"] == fresh.version

    edited = tmp_path / src.name
    edited.write_text(
        src.read_text(encoding="utf-8").replace(fresh.name, fresh.name + "（修订）"), encoding="utf-8"
    )
    assert load_spec(edited).name == fresh.name + "（修订）"
    assert len(list(cache.glob("*.marshal"))) == 2

    blocker = tmp_path / "not-a-folder"
    blocker.write_text("x")
    monkeypatch.setenv("NIANBAO_CACHE_DIR", str(blocker / "cache"))
    assert _summary(load_spec(src)) == _summary(fresh)
    assert spec_mod.cache_dir() == blocker / "cache"


def test_rules_expand_as_recorded(spec):
    """Every spec expands to exactly the rules recorded from the loader before the yaml gained
    its compact constructs (tests/data/record_rules.py writes the records)."""
    import json
    import sys

    sys.path.insert(0, str(Path(__file__).parent / "data"))
    try:
        from record_rules import expanded, record_path
    finally:
        sys.path.pop(0)
    recorded = json.loads(record_path(spec).read_text(encoding="utf-8"))
    assert expanded(spec) == recorded


def test_the_newest_form_is_the_default(tmp_path, monkeypatch):
    """No code names a form version: without one, every command takes the newest form found in
    templates/, so a future official form is one more yaml file."""
    from nianbao import spec as spec_mod
    from nianbao.spec import form_for_year, newest_spec, newest_version

    newest = max(all_specs(), key=lambda s: s.years["first"])
    assert newest_version() == newest.version and get_spec() is newest_spec() is newest
    assert form_for_year(None) == newest.version and form_for_year(3000) == newest.version
    # a future form: one more file
    for p in spec_mod.spec_paths():
        (tmp_path / p.name).write_bytes(p.read_bytes())
    text = newest.path.read_text(encoding="utf-8")
    text = text.replace(f'version: "{newest.version}"', 'version: "2099"', 1)
    text = re.sub(r"years: \{first: \d+\}", "years: {first: 2099}", text, count=1)
    (tmp_path / f"{spec_mod.SPEC_PREFIX}2099.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setattr(spec_mod, "templates_dir", lambda: tmp_path)
    monkeypatch.setattr(spec_mod, "_BY_VERSION", {})
    assert newest_version() == "2099" and get_spec().version == "2099"
    assert form_for_year(2100) == "2099" and form_for_year(2025) == newest.version

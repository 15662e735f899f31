"""Load and validate the declarative form specs in ``templates/``.

Everything that knows a label, a header tree, a cell kind or a rule reads it from here.
"""

from __future__ import annotations

import contextlib
import marshal
import os
import re
import sys
import zlib
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from .relations import OPS, Linear, Op, linear_form
from .specschema import (
    FINDING_FIELDS,
    CellRule,
    CoverField,
    Entry,
    Kind,
    SpecError,
    entries,
    load_cell_rules,
    load_cover,
    load_kinds,
)
from .vocab import CodeCollision, Level, Severity, code_registry

SPEC_PREFIX = "gov-info-disclosure-"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CELL_REF_RE = re.compile(r"^(?:[a-z]{1,3}\d+|r\d*c\d*)$", re.I)


def templates_dir() -> Path:
    here = Path(__file__).resolve().parent
    for cand in (here / "templates", here.parents[1] / "templates"):
        if cand.is_dir():
            return cand
    raise FileNotFoundError("找不到表式定义目录 templates/")


@dataclass(eq=False)
class Node:
    """A node of a row or column header tree."""

    key: str
    label: str
    depth: int
    parent: Node | None = None
    children: list[Node] = field(default_factory=list)
    span: int = 1  # grid columns a leaf column occupies
    kind: str | None = None

    @property
    def is_leaf(self) -> bool:
        return not self.children

    def leaves(self) -> list[Node]:
        if self.is_leaf:
            return [self]
        return [leaf for c in self.children for leaf in c.leaves()]

    def walk(self):
        yield self
        for c in self.children:
            yield from c.walk()

    @property
    def width(self) -> int:
        return sum(leaf.span for leaf in self.leaves())


@dataclass(eq=False)
class Cell:
    key: str
    table: Table
    section: Section
    row: Node
    col: Node
    kind: str

    @property
    def row_label(self) -> str:
        """Row label as shown in findings; 表四's unlabeled row uses the column's group."""
        r = self.row
        if not r.label:
            return self.col.parent.label if self.col.parent else ""
        if r.parent is not None and r.parent.depth >= 1:
            return f"{r.parent.label} {r.label}"
        return r.label

    @property
    def col_label(self) -> str:
        return self.col.label

    def location(self, sheet: str, ref: str) -> dict:
        """The finding fields that place a finding at this cell (labels and where it was read)."""
        return {
            "table": self.table.name,
            "row": self.row_label,
            "column": self.col_label,
            "sheet": sheet,
            "cell": ref,
            "key": self.key,
        }


@dataclass(eq=False)
class Section:
    key: str
    title: str | None
    corner: str | None
    columns: list[Node]
    rows: list[Node]

    def leaf_columns(self) -> list[Node]:
        return [leaf for n in self.columns for leaf in n.leaves()]

    def leaf_rows(self) -> list[Node]:
        return [leaf for n in self.rows for leaf in n.leaves()]

    @property
    def col_depth(self) -> int:
        return max(_depth(n) for n in self.columns)

    @property
    def row_depth(self) -> int:
        return max(_depth(n) for n in self.rows) if any(r.label for r in self.rows) else 0

    @property
    def value_width(self) -> int:
        return sum(n.width for n in self.columns)


def _depth(n: Node) -> int:
    return 1 + max((_depth(c) for c in n.children), default=0)


@dataclass(eq=False)
class Table:
    key: str
    name: str
    title: str
    sheet: str
    origin: str
    sections: list[Section]
    cells: list[Cell] = field(default_factory=list)

    @property
    def width(self) -> int:
        return max(s.row_depth + s.value_width for s in self.sections)

    def labels(self) -> set[str]:
        """Every label of the table: section titles, corner notes, both header trees."""
        out: set[str] = set()
        for sec in self.sections:
            out.update(x for x in (sec.title, sec.corner) if x)
            for tree in (sec.columns, sec.rows):
                out.update(n.label for root in tree for n in root.walk() if n.label)
        return out


@dataclass(frozen=True)
class Term:
    cell: str
    sign: int = 1
    prev: bool = False


@dataclass(eq=False)
class Rule:
    """One expanded relation: sum(lhs) <op> sum(rhs), reported at ``target``."""

    code: str
    name: str
    severity: Severity
    table: Table
    op: Op
    lhs: list[Term]
    rhs: list[Term]
    target: str
    message: str
    levels: tuple[str, ...] = ()  # issuer levels the rule applies at (nianbao.levels); () = all
    question: str = ""  # the message when the issuer's level is not known

    def applies_at(self, level: str | None) -> bool | None:
        """Whether the rule applies to an issuer at ``level``; None when that is not known."""
        if not self.levels:
            return True
        return None if level is None else level in self.levels

    @property
    def uses_previous(self) -> bool:
        up = self.__dict__.get("_uses_previous")
        if up is None:
            up = self.__dict__["_uses_previous"] = any(t.prev for t in self.lhs + self.rhs)
        return up

    def cells(self) -> list[str]:
        return [t.cell for t in self.lhs + self.rhs if not t.prev]

    def linear(self, previous: dict | None = None) -> Linear:
        """The rule as a linear form ``lhs - rhs <sense> constant`` over cell keys, last year's
        terms apart (moved into the constant when last year's ``previous`` values are given)."""
        if previous is not None:
            return self._linear(previous)
        lin = self.__dict__.get("_linear_form")
        if lin is None:
            lin = self.__dict__["_linear_form"] = self._linear(None)
        return lin

    def _linear(self, previous) -> Linear:
        terms = [(t.cell, t.sign, t.prev) for t in self.lhs]
        terms += [(t.cell, -t.sign, t.prev) for t in self.rhs]
        return linear_form(terms, self.op, previous)


@dataclass(eq=False)
class Spec:
    path: Path
    form: str
    version: str
    name: str
    basis: str
    years: dict
    workbook: dict
    cover: tuple[CoverField, ...]
    kinds: dict[str, Kind]
    body: list[str]
    tables: list[Table]
    rules: list[Rule]
    cell_rules: tuple[CellRule, ...]
    instructions: list[str]
    source: bytes = field(repr=False)  # the spec file as read
    prose: dict = field(default_factory=dict)  # prose-vs-table patterns of published reports

    @property
    def digest(self) -> str:
        """First 16 hex digits of the spec file's SHA-256 (written into templates)."""
        d = self.__dict__.get("_digest")
        if d is None:
            import hashlib  # only templates need it: not imported at every start

            d = self.__dict__["_digest"] = hashlib.sha256(self.source).hexdigest()[:16]
        return d

    @property
    def form_id(self) -> str:
        return f"{self.form}-{self.version}"

    @property
    def cells(self) -> dict[str, Cell]:
        return self._cells

    def table(self, key: str) -> Table:
        return next(t for t in self.tables if t.key == key)

    def cover_label(self, key: str) -> str:
        return next(c.label for c in self.cover if c.key == key)


def _node(raw, depth: int, parent: Node | None, where: str, path) -> Node:
    if not isinstance(raw, dict) or "key" not in raw or "label" not in raw:
        raise SpecError(path, where, "表头节点必须有 key 和 label")
    key = str(raw["key"])
    if key and not KEY_RE.match(key):
        raise SpecError(path, where, f"key “{key}” 只能用小写字母、数字和下划线")
    node = Node(
        key=key,
        label=str(raw["label"]),
        depth=depth,
        parent=parent,
        span=int(raw.get("span", 1)),
        kind=raw.get("kind"),
    )
    kids = raw.get("children") or []
    if not isinstance(kids, list):
        raise SpecError(path, f"{where}/{key}", "children 必须是列表")
    node.children = [_node(c, depth + 1, node, f"{where}/{key}", path) for c in kids]
    if node.children and node.span != 1:
        raise SpecError(path, f"{where}/{key}", "只有末级表头可以设置 span")
    return node


def _cell_key(table: str, row: str, col: str) -> str:
    return "_".join(p for p in ("nb", table, row, col) if p)


def cache_dir() -> Path:
    """Where parsed spec files are kept between runs: $NIANBAO_CACHE_DIR, else
    %LOCALAPPDATA%\\nianbao\\cache or $XDG_CACHE_HOME/nianbao (~/.cache/nianbao)."""
    if os.environ.get("NIANBAO_CACHE_DIR"):
        return Path(os.environ["NIANBAO_CACHE_DIR"])
    home = Path.home()
    if sys.platform == "win32":
        return Path(os.environ.get("LOCALAPPDATA") or home / "AppData" / "Local") / "nianbao" / "cache"
    return Path(os.environ.get("XDG_CACHE_HOME") or home / ".cache") / "nianbao"


def _cache_file(path: Path, data: bytes) -> Path:
    """The cache entry of one spec file's content (two checksums and the length: an edited file
    never meets an old entry) for this Python (marshal's format is version-specific)."""
    key = f"{zlib.crc32(data):08x}{zlib.adler32(data):08x}-{len(data)}"
    return cache_dir() / f"{path.stem}-{key}-py{sys.version_info[0]}{sys.version_info[1]}.marshal"


def _parse(path: Path, data: bytes) -> dict:
    """The spec file's data. Parsing YAML (and importing PyYAML) costs some 20 ms at every start
    of every command, so the parsed data is kept in the cache folder; the cache is only ever a
    shortcut: anything wrong with it (missing, damaged, unwritable) means parsing the file."""
    cache = _cache_file(path, data)
    try:
        raw = marshal.loads(cache.read_bytes())
        if isinstance(raw, dict):
            return raw
    except (OSError, ValueError, EOFError, TypeError):
        pass
    import yaml

    try:
        raw = yaml.load(data.decode("utf-8"), Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader))
    except (yaml.YAMLError, UnicodeDecodeError) as e:
        raise SpecError(path, "YAML", str(e)) from None
    if not isinstance(raw, dict):
        raise SpecError(path, "YAML", "文件内容不是键值结构")
    tmp = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
    try:
        cache.parent.mkdir(parents=True, exist_ok=True)
        tmp.write_bytes(marshal.dumps(raw))
        os.replace(tmp, cache)
    except (OSError, ValueError):  # no cache this time; the next run tries again
        with contextlib.suppress(OSError):
            tmp.unlink(missing_ok=True)
    return raw


def load_spec(path: Path | str) -> Spec:
    path = Path(path)
    raw_bytes = path.read_bytes()
    raw = _parse(path, raw_bytes)
    for need in ("form", "version", "tables", "rules", "cover", "kinds", "workbook"):
        if need not in raw:
            raise SpecError(path, need, "缺少此项")
    kinds = load_kinds(raw["kinds"], path)
    tables, cells = _load_tables(raw["tables"], kinds, path)
    rules = [
        r
        for i, rr in enumerate(entries(raw["rules"], path, "rules"))
        for r in _expand_rule(rr, i, tables, cells, path)
    ]
    spec = Spec(
        path=path,
        form=raw["form"],
        version=str(raw["version"]),
        name=raw.get("name", ""),
        basis=raw.get("basis", ""),
        years=raw.get("years") or {},
        workbook=raw["workbook"],
        cover=load_cover(raw["cover"], path),
        kinds=kinds,
        body=raw.get("body") or [],
        tables=tables,
        rules=rules,
        cell_rules=load_cell_rules(raw.get("cell_rules"), path),
        instructions=raw.get("instructions") or [],
        source=raw_bytes,
        prose=raw.get("prose") or {},
    )
    _check_prose(spec.prose, cells, path)
    spec._cells = cells
    _check_codes([spec], path)
    return spec


def _check_codes(specs: list[Spec], path) -> None:
    """A finding code means one thing: declared twice with another severity or name (in one
    spec, across the specs, or against the tool's own codes) is a load error."""
    try:
        code_registry(specs)
    except CodeCollision as e:
        raise SpecError(path, "rules", str(e)) from None


def _check_prose(prose: dict, cells: dict[str, Cell], path) -> None:
    for entry in prose.get("numbers", []):
        for key in entry.get("cells", []):
            if key not in cells:
                raise SpecError(path, f"prose/{entry.get('pattern', '?')}", f"引用了不存在的单元格 {key}")
    fee = prose.get("fee")
    if fee and fee.get("cell") not in cells:
        raise SpecError(path, "prose/fee", f"引用了不存在的单元格 {fee.get('cell')}")


def _load_tables(raw, kinds: dict[str, Kind], path) -> tuple[list[Table], dict[str, Cell]]:
    tables: list[Table] = []
    cells: dict[str, Cell] = {}
    for traw in entries(raw, path, "tables"):
        tkey = traw.get("key", "?") if isinstance(traw, dict) else "?"
        e = Entry(traw, path, f"tables/{tkey}")
        for need in ("key", "name", "title", "sheet", "origin", "sections"):
            e.need(need)
        table = Table(
            key=tkey,
            name=traw["name"],
            title=traw["title"],
            sheet=traw["sheet"],
            origin=traw["origin"],
            sections=[],
        )
        default_kind = traw.get("kind", "count")
        for sraw in entries(traw["sections"], path, f"tables/{tkey}/sections"):
            _load_section(sraw, table, default_kind, kinds, cells, path)
        if any(t.key == tkey for t in tables):
            e.fail("表 key 重复")
        tables.append(table)
    return tables, cells


def _load_section(sraw, table: Table, default_kind: str, kinds: dict[str, Kind], cells: dict, path) -> None:
    """Read one section of ``table`` and add its value cells to ``table.cells`` and ``cells``."""
    swhere = f"tables/{table.key}/{sraw.get('key', '?') if isinstance(sraw, dict) else '?'}"
    e = Entry(sraw, path, swhere)
    cols = [_node(c, 0, None, f"{swhere}/columns", path) for c in sraw.get("columns") or []]
    rows = [_node(r, 0, None, f"{swhere}/rows", path) for r in sraw.get("rows") or []]
    if not cols or not rows:
        e.fail("表头树不能为空（columns 与 rows 都必须有）")
    sec = Section(
        key=e.need("key"), title=sraw.get("title"), corner=sraw.get("corner"), columns=cols, rows=rows
    )
    table.sections.append(sec)
    for tree in (cols, rows):
        seen: set[str] = set()
        for n in (x for t in tree for x in t.walk()):
            if n.key in seen:
                raise SpecError(path, f"{swhere}/{n.key}", "同一表头树中 key 重复")
            seen.add(n.key)
    for r in sec.leaf_rows():
        for c in sec.leaf_columns():
            kind = c.kind or r.kind or default_kind
            if kind not in kinds:
                raise SpecError(path, f"{swhere}/{c.key}", f"未定义的单元格类型 “{kind}”")
            ck = _cell_key(table.key, r.key, c.key)
            if ck in cells:
                raise SpecError(path, f"{swhere}/{r.key}/{c.key}", f"单元格 key 重复：{ck}")
            if CELL_REF_RE.match(ck):
                raise SpecError(path, ck, "key 形如单元格引用，不能用作 Excel 名称")
            cell = Cell(key=ck, table=table, section=sec, row=r, col=c, kind=kind)
            cells[ck] = cell
            table.cells.append(cell)


# ---------------------------------------------------------------- rules
RULE_FIELDS = ("code", "name", "severity", "table", "for_each", "rows", "columns", "each", "op")
RULE_FIELDS += ("lhs", "rhs", "target", "message", "levels", "question")
RULE_MESSAGE_FIELDS = (*FINDING_FIELDS, "lhs_value", "rhs_value")
EACH = "{each}"


@dataclass(frozen=True)
class _RuleDef:
    """One rule entry of the yaml, validated, with ``{each}`` already substituted."""

    code: str
    name: str
    severity: Severity
    table: Table
    axis: str  # "row" | "column": the rule holds in each leaf row (column) of the table
    only: frozenset  # the rows (columns) it is restricted to, or empty
    op: Op
    lhs: tuple
    rhs: tuple
    target: str
    message: str
    levels: tuple[str, ...]
    question: str
    where: str

    def names(self) -> list[str]:
        return [_parse_term(t)[2] for t in self.lhs + self.rhs]


def _parse_term(term) -> tuple[int, bool, str]:
    """A term as (sign, is last year's, header key): "-prev:valid" -> (-1, True, "valid")."""
    t = str(term)
    sign = -1 if t.startswith("-") else 1
    t = t.lstrip("-")
    prev = t.startswith("prev:")
    return sign, prev, t.removeprefix("prev:")


def _rule_defs(rr, idx: int, tables: list[Table], path) -> list[_RuleDef]:
    """The validated definitions of one rule entry: one, or one per item of its ``each``."""
    where = f"rules[{idx}] {rr.get('code', '?') if isinstance(rr, dict) else '?'}"
    e = Entry(rr, path, where, RULE_FIELDS)
    for need in ("code", "severity", "table", "for_each", "lhs", "rhs", "message"):
        e.need(need)
    op = OPS.get(str(rr.get("op", "eq")))
    if op is None:
        e.fail(f"op 只能是 {sorted(OPS)}")
    table = next((t for t in tables if t.key == rr["table"]), None)
    if table is None:
        e.fail(f"未知的表 “{rr['table']}”")
    axis = e.choice("for_each", ("row", "column"))
    for side in ("lhs", "rhs"):
        if not isinstance(rr[side], list):
            e.fail(f"{side} 应为列表")
    each = rr.get("each")
    if each is not None and (not isinstance(each, list) or not each):
        e.fail("each 应为非空列表")
    terms = [str(t) for t in rr["lhs"] + rr["rhs"] + [rr.get("target", "")]]
    if (each is not None) != any(EACH in t for t in terms):
        e.fail("each 与项中的 {each} 必须同时使用")
    code, severity = e.text("code"), Severity(e.choice("severity", Severity.values()))
    message, name = e.message("message", RULE_MESSAGE_FIELDS), e.text("name", default=code)
    question = e.message("question", RULE_MESSAGE_FIELDS) if e.has("question") else message
    levels = rr.get("levels") or []
    if not isinstance(levels, list) or not set(levels) <= set(Level.__members__.values()):
        e.fail(f"levels 只能是 {[str(x) for x in Level]} 中的层级")
    only = frozenset(rr.get("rows" if axis == "row" else "columns") or [])

    def one(item: str) -> _RuleDef:
        sub = (lambda t: str(t).replace(EACH, item)) if each is not None else str
        lhs, rhs = tuple(map(sub, rr["lhs"])), tuple(map(sub, rr["rhs"]))
        default = _parse_term(lhs[0])[2] if lhs else None
        target = sub(rr["target"]) if "target" in rr else default
        d = _RuleDef(
            code,
            name,
            severity,
            table,
            axis,
            only,
            op,
            lhs,
            rhs,
            target,
            message,
            tuple(levels),
            question,
            where,
        )
        if target is None or target not in d.names():
            e.fail("target 必须是 lhs/rhs 中的一项")
        return d

    return [one(str(item)) for item in each] if each is not None else [one("")]


def _expand_rule(rr, idx: int, tables: list[Table], cells: dict[str, Cell], path) -> list[Rule]:
    out: list[Rule] = []
    for d in _rule_defs(rr, idx, tables, path):
        resolved: set[str] = set()
        rules = [r for sec in d.table.sections for r in _expand_in_section(d, sec, resolved, path)]
        if not rules:
            raise SpecError(path, d.where, f"规则在表 {d.table.key} 中没有可用的单元格")
        if d.only - resolved:
            raise SpecError(path, d.where, f"未知的行/列：{sorted(d.only - resolved)}")
        for rule in rules:
            for t in rule.lhs + rule.rhs:
                if t.cell not in cells:
                    raise SpecError(path, d.where, f"引用了不存在的单元格 {t.cell}")
        out += rules
    return out


def _expand_in_section(d: _RuleDef, sec: Section, resolved: set[str], path) -> list[Rule]:
    """The rules ``d`` stands for in one section: one per leaf row (column) — none when the
    section lacks the rule's headers."""
    tree = sec.columns if d.axis == "row" else sec.rows  # the terms name keys of the other axis
    by_key = {x.key: x for t in tree for x in t.walk()}
    found = {n: by_key[n].leaves() if n in by_key else None for n in d.names()}
    if any(v is None for v in found.values()):
        if any(v is not None for v in found.values()):
            missing = [n for n, v in found.items() if v is None]
            raise SpecError(path, d.where, f"表 {d.table.key} 的分区 {sec.key} 中找不到 {missing}")
        return []
    tleaves = found[d.target]
    if len(tleaves) != 1:
        raise SpecError(path, d.where, "target 必须是末级表头")
    out = []
    for it in sec.leaf_rows() if d.axis == "row" else sec.leaf_columns():
        if d.only and it.key not in d.only:
            continue
        resolved.add(it.key)

        def key(leaf: Node, it=it) -> str:
            r, c = (it, leaf) if d.axis == "row" else (leaf, it)
            return _cell_key(d.table.key, r.key, c.key)

        def expand(terms) -> list[Term]:
            return [
                Term(key(leaf), sign, prev)
                for sign, prev, name in map(_parse_term, terms)
                for leaf in found[name]
            ]

        out.append(
            Rule(
                code=d.code,
                name=d.name,
                severity=d.severity,
                table=d.table,
                op=d.op,
                lhs=expand(d.lhs),
                rhs=expand(d.rhs),
                target=key(tleaves[0]),
                message=d.message,
                levels=d.levels,
                question=d.question,
            )
        )
    return out


@cache
def _load_cached(path: str, mtime: float) -> Spec:
    return load_spec(path)


def spec_paths() -> list[Path]:
    return sorted(templates_dir().glob(f"{SPEC_PREFIX}*.yaml"))


_BY_VERSION: dict[str, Spec] = {}


def get_spec(version: str | None = None) -> Spec:
    """The spec of form version ``version`` (e.g. "2019"), loaded once per process; without a
    version, the newest form's."""
    if version is None:
        return newest_spec()
    spec = _BY_VERSION.get(version)
    if spec is None:
        path = templates_dir() / f"{SPEC_PREFIX}{version}.yaml"
        if not path.exists():
            raise KeyError(version)
        spec = _BY_VERSION[version] = _load_cached(str(path), path.stat().st_mtime)
    return spec


def all_specs() -> list[Spec]:
    specs = [_load_cached(str(p), p.stat().st_mtime) for p in spec_paths()]
    _check_codes(specs, templates_dir())
    return specs


def newest_spec() -> Spec:
    """The newest form found in templates/: the one whose report years start latest. What every
    command uses when no form is named (a new official form is one more yaml file)."""
    return max(all_specs(), key=lambda s: s.years.get("first", 0))


def newest_version() -> str:
    return newest_spec().version


def newest_spec_path() -> Path:
    return newest_spec().path


def form_for_year(year: int | None) -> str:
    """Which form version applies to a report year (by each spec's years.first/last; of two
    that cover it, the later one: a form's years run on until a newer form begins); the newest
    form for no year or a year no form covers."""
    if year is not None:
        covering = [s for s in all_specs() if s.years.get("first", 0) <= year <= s.years.get("last", 9999)]
        if covering:
            return max(covering, key=lambda s: s.years.get("first", 0)).version
    return newest_version()

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
from .vocab import CodeCollision, Level, Severity, code_registry

SPEC_PREFIX = "gov-info-disclosure-"
KEY_RE = re.compile(r"^[a-z][a-z0-9_]*$")
CELL_REF_RE = re.compile(r"^(?:[a-z]{1,3}\d+|r\d*c\d*)$", re.I)


class SpecError(Exception):
    """A spec file is malformed; the message names the file and the entry."""

    def __init__(self, path: Path | str, entry: str, message: str):
        self.path, self.entry = str(path), entry
        super().__init__(f"表式定义文件 {path} 有误（{entry}）：{message}")


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
    severity: str
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
    cover: list[dict]
    kinds: dict
    body: list[str]
    tables: list[Table]
    rules: list[Rule]
    cell_rules: list[dict]
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
        return next(c["label"] for c in self.cover if c["key"] == key)


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
    kinds = raw["kinds"]
    tables: list[Table] = []
    cells: dict[str, Cell] = {}
    for traw in raw["tables"]:
        tkey = traw.get("key", "?")
        where = f"tables/{tkey}"
        for need in ("key", "name", "title", "sheet", "origin", "sections"):
            if need not in traw:
                raise SpecError(path, where, f"缺少 {need}")
        table = Table(
            key=tkey,
            name=traw["name"],
            title=traw["title"],
            sheet=traw["sheet"],
            origin=traw["origin"],
            sections=[],
        )
        default_kind = traw.get("kind", "count")
        for sraw in traw["sections"]:
            swhere = f"{where}/{sraw.get('key', '?')}"
            cols = [_node(c, 0, None, f"{swhere}/columns", path) for c in sraw.get("columns") or []]
            rows = [_node(r, 0, None, f"{swhere}/rows", path) for r in sraw.get("rows") or []]
            if not cols or not rows:
                raise SpecError(path, swhere, "表头树不能为空（columns 与 rows 都必须有）")
            sec = Section(
                key=sraw["key"], title=sraw.get("title"), corner=sraw.get("corner"), columns=cols, rows=rows
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
                    ck = _cell_key(tkey, r.key, c.key)
                    if ck in cells:
                        raise SpecError(path, f"{swhere}/{r.key}/{c.key}", f"单元格 key 重复：{ck}")
                    if CELL_REF_RE.match(ck):
                        raise SpecError(path, ck, "key 形如单元格引用，不能用作 Excel 名称")
                    cell = Cell(key=ck, table=table, section=sec, row=r, col=c, kind=kind)
                    cells[ck] = cell
                    table.cells.append(cell)
        if any(t.key == tkey for t in tables):
            raise SpecError(path, where, "表 key 重复")
        tables.append(table)
    rules = [r for i, rr in enumerate(raw["rules"]) for r in _expand_rule(rr, i, tables, cells, path)]
    spec = Spec(
        path=path,
        form=raw["form"],
        version=str(raw["version"]),
        name=raw.get("name", ""),
        basis=raw.get("basis", ""),
        years=raw.get("years") or {},
        workbook=raw["workbook"],
        cover=raw["cover"],
        kinds=kinds,
        body=raw.get("body") or [],
        tables=tables,
        rules=rules,
        cell_rules=[_cell_rule(r, path) for r in raw.get("cell_rules") or []],
        instructions=raw.get("instructions") or [],
        source=raw_bytes,
        prose=raw.get("prose") or {},
    )
    for entry in spec.prose.get("numbers", []):
        for key in entry.get("cells", []):
            if key not in cells:
                raise SpecError(path, f"prose/{entry.get('pattern', '?')}", f"引用了不存在的单元格 {key}")
    fee = spec.prose.get("fee")
    if fee and fee.get("cell") not in cells:
        raise SpecError(path, "prose/fee", f"引用了不存在的单元格 {fee.get('cell')}")
    spec._cells = cells
    _check_codes([spec], path)
    return spec


def _cell_rule(rr: dict, path) -> dict:
    if rr.get("severity") not in Severity.values():
        raise SpecError(path, f"cell_rules {rr.get('code', '?')}", "severity 只能是 error 或 warning")
    return {**rr, "severity": Severity(rr["severity"])}


def _check_codes(specs: list[Spec], path) -> None:
    """A finding code means one thing: declared twice with another severity or name (in one
    spec, across the specs, or against the tool's own codes) is a load error."""
    try:
        code_registry(specs)
    except CodeCollision as e:
        raise SpecError(path, "rules", str(e)) from None


def _expand_rule(rr: dict, idx: int, tables: list[Table], cells: dict[str, Cell], path) -> list[Rule]:
    where = f"rules[{idx}] {rr.get('code', '?')}"
    for need in ("code", "severity", "table", "for_each", "lhs", "rhs", "message"):
        if need not in rr:
            raise SpecError(path, where, f"缺少 {need}")
    levels = tuple(rr.get("levels") or ())
    if not set(levels) <= set(Level.__members__.values()):
        raise SpecError(path, where, f"levels 只能是 {[str(x) for x in Level]} 中的层级")
    if rr["severity"] not in Severity.values():
        raise SpecError(path, where, "severity 只能是 error 或 warning")
    op = OPS.get(str(rr.get("op", "eq")))
    if op is None:
        raise SpecError(path, where, f"op 只能是 {sorted(OPS)}")
    table = next((t for t in tables if t.key == rr["table"]), None)
    if table is None:
        raise SpecError(path, where, f"未知的表 “{rr['table']}”")
    axis = rr["for_each"]
    if axis not in ("row", "column"):
        raise SpecError(path, where, "for_each 只能是 row 或 column")

    # names the terms may use: keys of the other axis (groups expand to their leaves)
    def term_leaves(sec: Section, name: str) -> list[Node] | None:
        tree = sec.columns if axis == "row" else sec.rows
        for n in (x for t in tree for x in t.walk()):
            if n.key == name:
                return n.leaves()
        return None

    def parse(term: str) -> tuple[int, bool, str]:
        t = str(term)
        sign = -1 if t.startswith("-") else 1
        t = t.lstrip("-")
        prev = t.startswith("prev:")
        return sign, prev, t.removeprefix("prev:")

    names = [parse(t)[2] for t in list(rr["lhs"]) + list(rr["rhs"])]
    target_name = rr.get("target", parse(rr["lhs"][0])[2] if rr["lhs"] else None)
    if target_name is None or target_name not in names:
        raise SpecError(path, where, "target 必须是 lhs/rhs 中的一项")
    only = set(rr.get("rows" if axis == "row" else "columns") or [])
    out: list[Rule] = []
    resolved_any = set()
    for sec in table.sections:
        iter_nodes = sec.leaf_rows() if axis == "row" else sec.leaf_columns()
        found = {n: term_leaves(sec, n) for n in names}
        if any(v is None for v in found.values()):
            if any(v is not None for v in found.values()):
                missing = [n for n, v in found.items() if v is None]
                raise SpecError(path, where, f"表 {table.key} 的分区 {sec.key} 中找不到 {missing}")
            continue
        for it in iter_nodes:
            if only and it.key not in only:
                continue
            resolved_any.add(it.key)

            def expand(terms, found=found, it=it) -> list[Term]:
                res = []
                for t in terms:
                    sign, prev, name = parse(t)
                    for leaf in found[name]:
                        r, c = (it, leaf) if axis == "row" else (leaf, it)
                        res.append(Term(_cell_key(table.key, r.key, c.key), sign, prev))
                return res

            lhs, rhs = expand(rr["lhs"]), expand(rr["rhs"])
            tleaves = found[target_name]
            if len(tleaves) != 1:
                raise SpecError(path, where, "target 必须是末级表头")
            r, c = (it, tleaves[0]) if axis == "row" else (tleaves[0], it)
            target = _cell_key(table.key, r.key, c.key)
            out.append(
                Rule(
                    code=rr["code"],
                    name=rr.get("name", rr["code"]),
                    severity=Severity(rr["severity"]),
                    table=table,
                    op=op,
                    lhs=lhs,
                    rhs=rhs,
                    target=target,
                    message=rr["message"],
                    levels=levels,
                    question=rr.get("question") or rr["message"],
                )
            )
    if not out:
        raise SpecError(path, where, f"规则在表 {table.key} 中没有可用的单元格")
    if only - resolved_any:
        raise SpecError(path, where, f"未知的行/列：{sorted(only - resolved_any)}")
    for rule in out:
        for t in rule.lhs + rule.rhs:
            if t.cell not in cells:
                raise SpecError(path, where, f"引用了不存在的单元格 {t.cell}")
    return out


@cache
def _load_cached(path: str, mtime: float) -> Spec:
    return load_spec(path)


def spec_paths() -> list[Path]:
    return sorted(templates_dir().glob(f"{SPEC_PREFIX}*.yaml"))


_BY_VERSION: dict[str, Spec] = {}


def get_spec(version: str = "2021") -> Spec:
    """The spec of form version ``version`` ("2021" or "2019"), loaded once per process."""
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


def form_for_year(year: int | None) -> str:
    """Which form version applies to a report year (by each spec's years.first/last)."""
    best = None
    for s in all_specs():
        first, last = s.years.get("first", 0), s.years.get("last", 9999)
        if year is not None and first <= year <= last:
            return s.version
        if best is None or s.years.get("first", 0) > best.years.get("first", 0):
            best = s
    return best.version

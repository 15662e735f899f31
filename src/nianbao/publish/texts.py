"""The publishing texts of ``templates/publish-sentences.yaml`` (title, notices, placeholder,
captions, generated sentences), typed and validated at load like the form specs: a malformed
file is refused with a Chinese message naming the file and the entry."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from ..specschema import Entry, SpecError

FILE = "publish-sentences.yaml"
FIELDS = (
    "title",
    "notice",
    "partial_notice",
    "placeholder",
    "skeleton_hints",
    "skeleton_table_part",
    "caption",
    "footer_page",
    "change",
    "sentences",
)


class TextsError(SpecError):
    """publish-sentences.yaml is malformed; the message names the file and the entry."""

    def __init__(self, path: Path | str, entry: str, message: str):
        super().__init__(path, entry, message)
        self.args = (f"发布文字定义文件 {path} 有误（{entry}）：{message}",)

    def __str__(self) -> str:
        return self.args[0]


@dataclass(frozen=True)
class Sentence:
    """One generated sentence: ``text`` with the figures ``values`` names (a cell key, a glob or
    a list: a sum); ``previous`` compares with last year ({name_change})."""

    text: str
    values: Mapping[str, str | tuple[str, ...]]
    previous: str | None = None


@dataclass(frozen=True)
class PublishTexts:
    title: str
    notice: str
    partial_notice: str
    placeholder: str
    skeleton_hints: Mapping[str, str]
    skeleton_table_part: str
    caption: str
    footer_page: tuple[str, str]
    change: Mapping[str, str]  # up, down, same
    sentences: Mapping[str, tuple[Sentence, ...]]  # table key -> its sentences, in order


class _Entry(Entry):
    def fail(self, message: str):
        raise TextsError(self.path, self.where, message)


def load_texts(raw, path, cell_keys: set[str], table_keys: set[str]) -> PublishTexts:
    """Validate the parsed file against the form specs' cells and tables."""
    e = _Entry(raw, path, "全文", FIELDS)
    hints = _Entry(e.need("skeleton_hints"), path, "skeleton_hints")
    footer = e.need("footer_page")
    if not (isinstance(footer, list) and len(footer) == 2 and all(isinstance(x, str) for x in footer)):
        e.fail('footer_page 应为两段文字的列表（页码前、页码后），如 ["— ", " —"]')
    change = _Entry(e.need("change"), path, "change", ("up", "down", "same"))
    return PublishTexts(
        title=e.message("title", ("unit", "year")),
        notice=e.message("notice", ("errors",)),
        partial_notice=e.message("partial_notice", ("coverage",)),
        placeholder=e.text("placeholder"),
        skeleton_hints={str(k): hints.text(k) for k in hints.raw},
        skeleton_table_part=e.text("skeleton_table_part"),
        caption=e.message("caption", ("name", "title", "subject")),
        footer_page=(footer[0], footer[1]),
        change={
            "up": change.message("up", ("n",)),
            "down": change.message("down", ("n",)),
            "same": change.message("same", ()),
        },
        sentences=_sentences(e.need("sentences"), path, cell_keys, table_keys),
    )


def _sentences(raw, path, cell_keys: set[str], table_keys: set[str]) -> dict[str, tuple[Sentence, ...]]:
    tables = _Entry(raw, path, "sentences", sorted(table_keys))
    out: dict[str, tuple[Sentence, ...]] = {}
    for tkey, items in tables.raw.items():
        if not isinstance(items, list):
            tables.fail(f"{tkey} 应为句子的列表")
        out[tkey] = tuple(
            _sentence(item, path, f"sentences/{tkey}[{i}]", cell_keys) for i, item in enumerate(items)
        )
    return out


def _sentence(raw, path, where: str, cell_keys: set[str]) -> Sentence:
    e = _Entry(raw, path, where, ("text", "previous", "values"))
    values = _Entry(e.need("values"), path, f"{where}/values")
    refs: dict[str, str | tuple[str, ...]] = {}
    for name, ref in values.raw.items():
        patterns = ref if isinstance(ref, list) else [ref]
        if not patterns or not all(isinstance(p, str) and p for p in patterns):
            values.fail(f"{name} 应为单元格 key、通配符或它们的列表")
        missing = [p for p in patterns if not any(fnmatchcase(k, p) for k in cell_keys)]
        if missing:
            values.fail(f"{name} 引用的单元格在各表式中都不存在：{'、'.join(missing)}")
        refs[str(name)] = tuple(ref) if isinstance(ref, list) else ref
    previous = e.message("previous", [f"{n}_change" for n in refs]) if e.has("previous") else None
    return Sentence(text=e.message("text", list(refs)), values=refs, previous=previous)


def read_texts(path: Path) -> PublishTexts:
    """Read and validate the file at ``path`` against the form specs found in templates/."""
    import yaml

    from ..spec import all_specs

    try:
        raw = yaml.safe_load(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as e:
        raise TextsError(path, "YAML", str(e)) from None
    specs = all_specs()
    cells = {k for s in specs for k in s.cells}
    tables = {t.key for s in specs for t in s.tables}
    return load_texts(raw, path, cells, tables)

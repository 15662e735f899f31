"""templates/publish-sentences.yaml is typed and validated at load like the form specs: each
broken snippet is refused with a Chinese message naming the file and the entry."""

from __future__ import annotations

import pytest
import yaml

from nianbao.publish.document import texts
from nianbao.publish.texts import FILE, PublishTexts, Sentence, TextsError, read_texts
from nianbao.spec import templates_dir


def _raw() -> dict:
    return yaml.safe_load((templates_dir() / FILE).read_text(encoding="utf-8"))


def _set(path: str, value):
    def mutate(raw):
        *head, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        for p in head:
            raw = raw[p]
        raw[last] = value

    return mutate


def _drop(path: str):
    def mutate(raw):
        *head, last = [int(p) if p.isdigit() else p for p in path.split("/")]
        for p in head:
            raw = raw[p]
        del raw[last]

    return mutate


S0 = "sentences/t3/0"  # the first sentence of 表三
BROKEN = [
    ("not a mapping", lambda raw: raw.clear() or raw.update({"x": 1}), "全文", "未知的项 x"),
    ("title missing", _drop("title"), "全文", "缺少 title"),
    ("title placeholder", _set("title", "{unit}{年度}年报"), "全文", "{年度} 不是可用的占位符"),
    ("notice braces", _set("notice", "存在 {errors 处错误"), "全文", "花括号不成对"),
    ("placeholder empty", _set("placeholder", ""), "全文", "placeholder 应为非空文字"),
    ("footer one part", _set("footer_page", ["— "]), "全文", "footer_page 应为两段文字的列表"),
    ("change key typo", _set("change/upp", "增加{n}件"), "change", "未知的项 upp"),
    ("change without down", _drop("change/down"), "change", "缺少 down"),
    ("change same with n", _set("change/same", "持平{n}"), "change", "{n} 不是可用的占位符"),
    ("unknown table", _set("sentences/t9", []), "sentences", "未知的项 t9"),
    ("sentences not a list", _set("sentences/t3", {"text": "x"}), "sentences", "t3 应为句子的列表"),
    ("sentence typo", _set("sentences/t3/0/txt", "x"), "sentences/t3[0]", "未知的项 txt"),
    ("sentence without values", _drop("sentences/t3/0/values"), "sentences/t3[0]", "缺少 values"),
    (
        "unknown cell",
        _set("sentences/t3/0/values/new", "nb_t3_new_totl"),
        "sentences/t3[0]/values",
        "nb_t3_new_totl",
    ),
    (
        "glob matching nothing",
        _set("sentences/t3/1/values/deny", "nb_t9_*"),
        "sentences/t3[1]/values",
        "nb_t9_*",
    ),
    (
        "text names no value",
        _set("sentences/t3/0/text", "共{new}件，{old}件"),
        "sentences/t3[0]",
        "{old} 不是可用的占位符",
    ),
    (
        "previous names no change",
        _set("sentences/t3/0/previous", "新收{new}"),
        "sentences/t3[0]",
        "{new} 不是可用的占位符",
    ),
]


@pytest.mark.parametrize("mutate,entry,words", [c[1:] for c in BROKEN], ids=[c[0] for c in BROKEN])
def test_broken_texts_are_refused_naming_file_and_entry(tmp_path, mutate, entry, words):
    raw = _raw()
    mutate(raw)
    path = tmp_path / FILE
    path.write_text(yaml.safe_dump(raw, allow_unicode=True, sort_keys=False), encoding="utf-8")
    with pytest.raises(TextsError) as e:
        read_texts(path)
    assert e.value.path == str(path) and e.value.entry == entry, e.value
    assert str(e.value).startswith(f"发布文字定义文件 {path} 有误（{entry}）："), e.value
    assert words in str(e.value), e.value


def test_bad_yaml_is_refused(tmp_path):
    path = tmp_path / FILE
    path.write_text("title: [unclosed\n", encoding="utf-8")
    with pytest.raises(TextsError, match=r"发布文字定义文件 .* 有误（YAML）"):
        read_texts(path)


def test_the_bundled_texts_are_typed():
    t = texts()
    assert isinstance(t, PublishTexts) and t.placeholder == "【待填写】"
    assert set(t.sentences) == {"t3", "t4"}
    assert all(isinstance(s, Sentence) for ss in t.sentences.values() for s in ss)
    assert t.change["up"].format(n=3) == "较上年增加3件"
    assert t.footer_page == ("— ", " —")

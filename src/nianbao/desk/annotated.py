"""The annotated copy of one stored upload, made on request (never on upload)."""

from __future__ import annotations

import tempfile
from pathlib import Path

from ..inputs import Input, kind_of
from .store import DeskError


def annotated_copy(desk, upload: dict) -> tuple[str, bytes]:
    """(file name, bytes) of the annotated copy of ``upload``; DeskError when there is none."""
    from ..annotate import AnnotateError, annotate_workbook, output_name
    from ..pipeline import read_and_check

    name = upload["filename"]
    if kind_of(name) != "workbook":
        raise DeskError("只有 Excel 工作簿才有批注副本", 404)
    blob = desk.store.blob_path(upload["sha256"])
    item = Input(display=name, name=name, suffix=Path(name).suffix.lower(), path=blob, kind="workbook")
    report = read_and_check(item)
    if report.unreadable:
        raise DeskError("该文件无法读取，没有批注副本；请按页面提示重新导出后上传", 404)
    out_name = output_name(name)
    with tempfile.TemporaryDirectory(prefix="nianbao-desk-") as tmp:
        out = Path(tmp) / out_name
        try:
            annotate_workbook(blob, name, report, out, force=True)
        except AnnotateError as e:
            raise DeskError(str(e), 422) from None
        return out_name, out.read_bytes()

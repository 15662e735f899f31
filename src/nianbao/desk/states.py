"""The states of a unit in a collection, and the decisions that move it."""

from __future__ import annotations

from enum import StrEnum

from ..vocab import Status


class UnitState(StrEnum):
    """A unit's place in the year's collection; ``zh`` is what people read, ``rank`` the board order
    (what needs the clerk first)."""

    PENDING = "pending"
    ERRORS = "errors"
    RETURNED = "returned"
    UPLOADED = "uploaded"
    NOT_REPORTED = "not_reported"
    ACCEPTED = "accepted"

    @property
    def zh(self) -> str:
        return _ZH[self]

    @property
    def rank(self) -> int:
        return list(UnitState).index(self)


_ZH = {
    UnitState.PENDING: "待审核",
    UnitState.ERRORS: Status.FAILED.zh,
    UnitState.RETURNED: "已退回",
    UnitState.UPLOADED: "已上传未确认",
    UnitState.NOT_REPORTED: Status.MISSING.zh,
    UnitState.ACCEPTED: "已通过",
}


class Decision(StrEnum):
    SUBMIT = "submit"
    ACCEPT = "accept"
    RETURN = "return"
    REOPEN = "reopen"

    @property
    def zh(self) -> str:
        return {"submit": "确认报送", "accept": "审核通过", "return": "退回修改", "reopen": "重新打开"}[self]


class UploadSource(StrEnum):
    UNIT = "unit"  # through the unit's own link
    CLERK = "clerk"  # dropped in by the clerk (received by email, matched by 填报单位)

    @property
    def zh(self) -> str:
        return {"unit": "单位上传", "clerk": "管理员代传"}[self]

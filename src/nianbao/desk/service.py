"""报送台: the year's collection. A clerk creates it from a roster; every unit uploads its own
returns through its personal link, sees the findings, fixes, explains warnings and submits; the
clerk accepts or returns, chases the missing ones and aggregates the accepted returns.

Every change is one SQLite transaction with an audit row (who, when, from which address).
"""

from __future__ import annotations

import json
import unicodedata
from pathlib import Path

from ..vocab import Decision, Severity, Status, UnitState, UploadSource
from .checking import changes, check_file
from .store import DeskError, Store, new_id, new_token, now

ADMIN = "管理员"
MAX_UPLOAD_BYTES = 20 * 1024 * 1024
MAX_COMMENT = 2000


def norm_name(name: str) -> str:
    """Unit names compare without spaces and full-/half-width differences."""
    return "".join(unicodedata.normalize("NFKC", name or "").split())


def item_id(finding: dict, index: int) -> str:
    """A warning's stable id within its upload (what a 核实说明 is attached to)."""
    return f"{finding.get('code')}:{finding.get('cell') or index}"


def _state_of(result: dict) -> UnitState:
    return UnitState.ERRORS if result.get("status") != Status.PASSED else UnitState.UPLOADED


class Desk:
    """Operations on the collections kept under ``root``."""

    def __init__(self, root: Path | str):
        self.store = Store(root)

    def close(self) -> None:
        self.store.close()

    # collections ------------------------------------------------------------------------------

    def create(
        self,
        roster: list[dict],
        *,
        year: int,
        form: str,
        deadline: str = "",
        public_url: str = "",
        name: str = "",
        issuer: str = "",
        address: str = "",
    ) -> dict:
        """A new collection with one unit (and one link) per roster row."""
        from ..roster import ALIAS, CATEGORY, NAME

        if not roster:
            raise DeskError("单位名单中没有任何单位")
        cid, at = new_id(), now()
        title = name or f"{year}年度政府信息公开工作年度报告报送"
        with self.store.tx() as con:
            con.execute(
                "INSERT INTO collections(id, name, year, form, deadline, public_url, issuer, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                (cid, title, year, form, deadline, public_url.rstrip("/"), issuer, at),
            )
            for pos, u in enumerate(roster):
                self._insert_unit(con, cid, u[NAME], u.get(CATEGORY, ""), u.get(ALIAS, ""), pos)
            self.store.audit(
                con,
                "创建报送任务",
                actor=ADMIN,
                address=address,
                collection_id=cid,
                detail={"单位数": len(roster), "年度": year, "表式": form},
            )
        return self.collection(cid)

    def _insert_unit(self, con, cid: str, name: str, category: str, aliases: str, pos: int) -> str:
        uid = new_id()
        con.execute(
            "INSERT INTO units(id, collection_id, name, category, aliases, position, token, state,"
            " updated_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (uid, cid, name.strip(), category, aliases, pos, new_token(), UnitState.NOT_REPORTED, now()),
        )
        return uid

    def collections(self) -> list[dict]:
        rows = self.store.all("SELECT * FROM collections ORDER BY created_at DESC")
        for c in rows:
            c["counts"] = self._counts(c["id"])
        return rows

    def collection(self, cid: str) -> dict:
        c = self.store.one("SELECT * FROM collections WHERE id = ?", cid)
        if c is None:
            raise DeskError("找不到该报送任务", 404)
        c["units"] = self.units(cid)
        c["counts"] = self._counts(cid)
        return c

    def _counts(self, cid: str) -> dict[str, int]:
        rows = self.store.all(
            "SELECT state, COUNT(*) AS n FROM units WHERE collection_id = ? AND removed = 0 GROUP BY state",
            cid,
        )
        got = {r["state"]: r["n"] for r in rows}
        return {s.value: got.get(s.value, 0) for s in UnitState}

    def units(self, cid: str) -> list[dict]:
        return self.store.all(
            "SELECT * FROM units WHERE collection_id = ? AND removed = 0 ORDER BY position", cid
        )

    def link(self, collection: dict, unit: dict) -> str:
        return f"{collection['public_url']}/u/{unit['token']}"

    def set_closed(self, cid: str, closed: bool, address: str = "") -> None:
        self.collection(cid)
        with self.store.tx() as con:
            con.execute("UPDATE collections SET closed = ? WHERE id = ?", (int(closed), cid))
            action = "截止收取" if closed else "重新开放收取"
            self.store.audit(con, action, actor=ADMIN, address=address, collection_id=cid)

    # roster changes ---------------------------------------------------------------------------

    def add_unit(self, cid: str, name: str, category: str = "", address: str = "") -> dict:
        self.collection(cid)
        if not norm_name(name):
            raise DeskError("请填写单位名称")
        if any(norm_name(u["name"]) == norm_name(name) for u in self.units(cid)):
            raise DeskError(f"单位“{name}”已在名单中", 409)
        with self.store.tx() as con:
            pos = con.execute(
                "SELECT COALESCE(MAX(position), -1) + 1 FROM units WHERE collection_id = ?", (cid,)
            )
            uid = self._insert_unit(con, cid, name, category, "", pos.fetchone()[0])
            self.store.audit(
                con,
                "增加单位",
                actor=ADMIN,
                address=address,
                collection_id=cid,
                unit_id=uid,
                detail={"单位": name},
            )
        return self.unit(uid)

    def unit(self, uid: str) -> dict:
        u = self.store.one("SELECT * FROM units WHERE id = ? AND removed = 0", uid)
        if u is None:
            raise DeskError("找不到该单位", 404)
        return u

    def unit_in(self, cid: str, uid: str) -> dict:
        u = self.unit(uid)
        if u["collection_id"] != cid:
            raise DeskError("找不到该单位", 404)
        return u

    def rename_unit(self, uid: str, name: str, address: str = "") -> dict:
        u = self.unit(uid)
        if not norm_name(name):
            raise DeskError("请填写单位名称")
        clash = [
            x
            for x in self.units(u["collection_id"])
            if x["id"] != uid and norm_name(x["name"]) == norm_name(name)
        ]
        if clash:
            raise DeskError(f"单位“{name}”已在名单中", 409)
        aliases = "、".join(a for a in (u["aliases"], u["name"]) if a)
        with self.store.tx() as con:
            con.execute(
                "UPDATE units SET name = ?, aliases = ?, updated_at = ? WHERE id = ?",
                (name.strip(), aliases, now(), uid),
            )
            self.store.audit(
                con,
                "单位改名",
                actor=ADMIN,
                address=address,
                collection_id=u["collection_id"],
                unit_id=uid,
                detail={"原名": u["name"], "新名": name},
            )
        return self.unit(uid)

    def remove_unit(self, uid: str, address: str = "") -> None:
        u = self.unit(uid)
        with self.store.tx() as con:
            con.execute(
                "UPDATE units SET removed = 1, token = ?, updated_at = ? WHERE id = ?",
                ("revoked-" + new_token(), now(), uid),
            )
            self.store.audit(
                con,
                "移出名单",
                actor=ADMIN,
                address=address,
                collection_id=u["collection_id"],
                unit_id=uid,
                detail={"单位": u["name"]},
            )

    def reissue_link(self, uid: str, address: str = "") -> dict:
        """A new link for the unit; the old one stops working at once."""
        self._set_token(uid, new_token(), "重新生成链接", address)
        return self.unit(uid)

    def revoke_link(self, uid: str, address: str = "") -> None:
        """The unit's link stops working; no new one is given until reissued."""
        self._set_token(uid, "revoked-" + new_token(), "停用链接", address)

    def _set_token(self, uid: str, token: str, action: str, address: str) -> None:
        u = self.unit(uid)
        with self.store.tx() as con:
            con.execute("UPDATE units SET token = ?, updated_at = ? WHERE id = ?", (token, now(), uid))
            self.store.audit(
                con, action, actor=ADMIN, address=address, collection_id=u["collection_id"], unit_id=uid
            )

    def by_token(self, token: str) -> tuple[dict, dict]:
        """(collection, unit) of a unit link; DeskError 404 for anything else."""
        if not token or token.startswith("revoked-") or len(token) > 100:
            raise DeskError("链接无效或已停用，请向政务公开办索取新链接", 404)
        u = self.store.one("SELECT * FROM units WHERE token = ? AND removed = 0", token)
        if u is None:
            raise DeskError("链接无效或已停用，请向政务公开办索取新链接", 404)
        c = self.store.one("SELECT * FROM collections WHERE id = ?", u["collection_id"])
        return c, u

    # a unit's returns ------------------------------------------------------------------------

    def upload(
        self,
        uid: str,
        filename: str,
        data: bytes,
        *,
        source: UploadSource = UploadSource.UNIT,
        address: str = "",
    ) -> dict:
        """Store and check one return of the unit; the unit's state follows its newest upload."""
        u = self.unit(uid)
        c = self.store.one("SELECT * FROM collections WHERE id = ?", u["collection_id"])
        if c["closed"] and source == UploadSource.UNIT:
            raise DeskError("报送已截止，如需补报或修改请联系政务公开办", 403)
        if u["state"] == UnitState.ACCEPTED and source == UploadSource.UNIT:
            raise DeskError("本单位的报表已审核通过；如需修改，请联系政务公开办重新打开", 409)
        if not data:
            raise DeskError("上传的文件是空的（0 字节）")
        if len(data) > MAX_UPLOAD_BYTES:
            raise DeskError(f"文件超过 {MAX_UPLOAD_BYTES // 2**20} MB 的上限")
        name = Path(filename.replace("\\", "/")).name.strip() or "未命名文件.xlsx"
        sha = self.store.put_blob(data)
        result = check_file(self.store.blob_path(sha), name, form=c["form"], year=c["year"])
        result["notes"] = self._unit_notes(u, result)
        upid, state = new_id(), _state_of(result)
        with self.store.tx() as con:
            con.execute(
                "INSERT INTO uploads(id, unit_id, collection_id, sha256, filename, size, source, status,"
                " errors, warnings, reported_unit, result, uploaded_at, address)"
                " VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
                (
                    upid,
                    uid,
                    c["id"],
                    sha,
                    name,
                    len(data),
                    source,
                    result["status"],
                    result["errors"],
                    result["warnings"],
                    result.get("unit") or "",
                    json.dumps(result, ensure_ascii=False),
                    now(),
                    address,
                ),
            )
            con.execute(
                "UPDATE units SET state = ?, current_upload = ?, updated_at = ? WHERE id = ?",
                (state, upid, now(), uid),
            )
            self.store.audit(
                con,
                "上传报表",
                actor=u["name"] if source == UploadSource.UNIT else ADMIN,
                address=address,
                collection_id=c["id"],
                unit_id=uid,
                detail={
                    "文件": name,
                    Severity.ERROR.zh: result["errors"],
                    Severity.WARNING.zh: result["warnings"],
                },
            )
        return self.upload_record(upid)

    @staticmethod
    def _unit_notes(u: dict, result: dict) -> list[str]:
        """What the desk notices beyond the checks: a return that names another unit."""
        from ..aggregate import norm_name

        reported = (result.get("unit") or "").strip()
        names = [u["name"], *u["aliases"].replace(",", "、").split("、")]
        if reported and norm_name(reported) not in {norm_name(n) for n in names if n.strip()}:
            return [f"文件中的填报单位是“{reported}”，不是“{u['name']}”：请确认上传的是本单位的报表"]
        return []

    def upload_record(self, upid: str) -> dict:
        r = self.store.one("SELECT * FROM uploads WHERE id = ?", upid)
        if r is None:
            raise DeskError("找不到该次上传", 404)
        r["result"] = json.loads(r["result"])
        r["explanations"] = {
            e["item"]: e["text"]
            for e in self.store.all("SELECT * FROM explanations WHERE upload_id = ?", upid)
        }
        return r

    def uploads(self, uid: str) -> list[dict]:
        ids = [
            r["id"] for r in self.store.all("SELECT id FROM uploads WHERE unit_id = ? ORDER BY rowid", uid)
        ]
        return [self.upload_record(i) for i in ids]

    def history(self, uid: str) -> list[dict]:
        """The unit's uploads, oldest first, each with what changed since the one before."""
        from ..spec import get_spec

        ups, out = self.uploads(uid), []
        for i, up in enumerate(ups):
            form = up["result"].get("form")
            prev = ups[i - 1]["result"] if i else None
            diff = (
                changes(prev, up["result"], get_spec(form))
                if prev and form and prev.get("form") == form
                else []
            )
            out.append({**up, "changes": diff})
        return out

    def decisions(self, uid: str) -> list[dict]:
        return self.store.all("SELECT * FROM decisions WHERE unit_id = ? ORDER BY rowid", uid)

    def warning_items(self, upload: dict) -> list[dict]:
        """The warnings of an upload that want a 核实说明, each with a stable item id."""
        return [
            {
                "item": item_id(f, i),
                "finding": f,
                "explanation": upload["explanations"].get(item_id(f, i), ""),
            }
            for i, f in enumerate(upload["result"].get("findings", []))
            if f.get("severity") == Severity.WARNING
        ]

    def explain(self, uid: str, item: str, text: str, address: str = "") -> None:
        u = self.unit(uid)
        if not u["current_upload"]:
            raise DeskError("尚未上传报表")
        up = self.upload_record(u["current_upload"])
        if item not in {w["item"] for w in self.warning_items(up)}:
            raise DeskError("没有这条警告", 404)
        text = text.strip()[:MAX_COMMENT]
        with self.store.tx() as con:
            if text:
                con.execute(
                    "INSERT OR REPLACE INTO explanations(upload_id, item, text, written_at) VALUES (?,?,?,?)",
                    (up["id"], item, text, now()),
                )
            else:
                con.execute("DELETE FROM explanations WHERE upload_id = ? AND item = ?", (up["id"], item))
            self.store.audit(
                con,
                "填写核实说明",
                actor=u["name"],
                address=address,
                collection_id=u["collection_id"],
                unit_id=uid,
                detail={Severity.WARNING.zh: item},
            )

    def submit(self, uid: str, address: str = "") -> dict:
        """确认报送: only a return without errors, while the collection is open."""
        u = self.unit(uid)
        c = self.store.one("SELECT * FROM collections WHERE id = ?", u["collection_id"])
        if c["closed"]:
            raise DeskError("报送已截止，如需补报请联系政务公开办", 403)
        if not u["current_upload"]:
            raise DeskError("请先上传填好的报表")
        if u["state"] in (UnitState.PENDING, UnitState.ACCEPTED):
            raise DeskError("本单位已确认报送，无需重复提交", 409)
        up = self.upload_record(u["current_upload"])
        if up["result"]["status"] != Status.PASSED:
            raise DeskError(f"报表还有 {up['result']['errors']} 处错误，改正后重新上传才能确认报送", 409)
        self._decide(u, Decision.SUBMIT, UnitState.PENDING, "", u["name"], address)
        return self.unit(uid)

    # the clerk's decisions ---------------------------------------------------------------------

    def _decide(
        self, u: dict, kind: Decision, state: UnitState, comment: str, actor: str, address: str
    ) -> None:
        comment = (comment or "").strip()[:MAX_COMMENT]
        with self.store.tx() as con:
            con.execute(
                "INSERT INTO decisions(id, unit_id, upload_id, kind, comment, actor, at)"
                " VALUES (?,?,?,?,?,?,?)",
                (new_id(), u["id"], u["current_upload"], kind, comment, actor, now()),
            )
            con.execute(
                "UPDATE units SET state = ?, comment = ?, updated_at = ? WHERE id = ?",
                (state, comment if kind != Decision.SUBMIT else u["comment"], now(), u["id"]),
            )
            self.store.audit(
                con,
                kind.zh,
                actor=actor,
                address=address,
                collection_id=u["collection_id"],
                unit_id=u["id"],
                detail={"意见": comment} if comment else "",
            )

    def accept(self, uid: str, comment: str = "", address: str = "") -> dict:
        u = self.unit(uid)
        if u["state"] != UnitState.PENDING:
            raise DeskError(
                f"只有“{UnitState.PENDING.zh}”的单位可以审核通过（当前：{UnitState(u['state']).zh}）", 409
            )
        self._decide(u, Decision.ACCEPT, UnitState.ACCEPTED, comment, ADMIN, address)
        return self.unit(uid)

    def send_back(self, uid: str, comment: str, address: str = "") -> dict:
        u = self.unit(uid)
        if u["state"] not in (UnitState.PENDING, UnitState.UPLOADED, UnitState.ERRORS):
            raise DeskError(f"该单位当前为“{UnitState(u['state']).zh}”，不能退回", 409)
        if not (comment or "").strip():
            raise DeskError("退回时请写明退回原因，单位会看到这段意见")
        self._decide(u, Decision.RETURN, UnitState.RETURNED, comment, ADMIN, address)
        return self.unit(uid)

    def reopen(self, uid: str, comment: str = "", address: str = "") -> dict:
        """An accepted (or submitted) return is opened again: the unit may upload and submit anew."""
        u = self.unit(uid)
        if u["state"] not in (UnitState.ACCEPTED, UnitState.PENDING):
            raise DeskError("只有已确认报送或已通过的单位需要重新打开", 409)
        self._decide(
            u, Decision.REOPEN, UnitState.RETURNED, comment or "已重新打开，可修改后再次报送", ADMIN, address
        )
        return self.unit(uid)

    # the board --------------------------------------------------------------------------------

    def board(self, cid: str) -> dict:
        c = self.collection(cid)
        rows = []
        for u in c["units"]:
            up = self.upload_record(u["current_upload"]) if u["current_upload"] else None
            wants = self.warning_items(up) if up else []
            rows.append(
                {
                    "id": u["id"],
                    "unit": u["name"],
                    "category": u["category"],
                    "state": u["state"],
                    "state_zh": UnitState(u["state"]).zh,
                    "uploads": self.store.one("SELECT COUNT(*) AS n FROM uploads WHERE unit_id = ?", u["id"])[
                        "n"
                    ],
                    "last_upload": up["uploaded_at"] if up else "",
                    "errors": up["errors"] if up else 0,
                    "warnings": up["warnings"] if up else 0,
                    "explained": len(up["explanations"]) if up else 0,
                    "to_explain": len(wants),
                    "comment": u["comment"],
                    "coverage": up["result"].get("coverage", "") if up else "",
                    "notes": up["result"].get("notes", []) if up else [],
                    "link": self.link(c, u),
                }
            )
        rows.sort(key=lambda r: UnitState(r["state"]).rank)
        return {
            "collection": {k: c[k] for k in ("id", "name", "year", "form", "deadline", "closed", "issuer")},
            "counts": c["counts"],
            "units": rows,
        }

    def chase_list(self, cid: str) -> list[dict]:
        """催报名单: every unit that has not yet submitted (or was sent back)."""
        todo = (UnitState.NOT_REPORTED, UnitState.ERRORS, UnitState.UPLOADED, UnitState.RETURNED)
        return [r for r in self.board(cid)["units"] if r["state"] in todo]

    def audit_log(self, cid: str, limit: int = 500) -> list[dict]:
        return self.store.all(
            "SELECT * FROM audit WHERE collection_id = ? ORDER BY id DESC LIMIT ?", cid, limit
        )

    def drop_in(self, cid: str, files: list[tuple[str, bytes]], address: str = "") -> list[dict]:
        """Files received by email: each is matched to a unit by its 填报单位 (or aliases) and stored
        as that unit's upload. Returns one line per file: matched unit or why not."""
        units = self.units(cid)
        names = {}
        for u in units:
            for n in [u["name"], *[a for a in u["aliases"].replace(",", "、").split("、") if a.strip()]]:
                names.setdefault(norm_name(n), u)
        out = []
        for filename, data in files:
            c = self.store.one("SELECT * FROM collections WHERE id = ?", cid)
            sha = self.store.put_blob(data) if data else ""
            res = (
                check_file(self.store.blob_path(sha), filename, form=c["form"], year=c["year"]) if sha else {}
            )
            u = names.get(norm_name(res.get("unit") or ""))
            if u is None:
                why = f"填报单位“{res.get('unit')}”不在名单中" if res.get("unit") else "未能读出填报单位"
                out.append({"file": filename, "unit": None, "message": why})
                continue
            up = self.upload(u["id"], filename, data, source=UploadSource.CLERK, address=address)
            out.append({"file": filename, "unit": u["name"], "upload": up["id"], "status": up["status"]})
        return out

"""The batch engine: ordered and unordered results, and crash isolation in one place."""

from __future__ import annotations

import os

import pytest

from nianbao import engine
from nianbao.engine import run_batch


def _square(x: int) -> int:
    if x == 7:
        raise ValueError("seven")
    if x == 11:
        os._exit(3)  # a native library aborting: the worker process dies
    return x * x


def _failed(x: int, exc: BaseException) -> str:
    return f"failed {x}: {type(exc).__name__}"


def _crashed(x: int) -> str:
    return f"crashed {x}"


def _expected(n: int) -> dict[int, object]:
    out: dict[int, object] = {i: i * i for i in range(n)}
    out[7] = "failed 7: ValueError"
    if n > 11:
        out[11] = "crashed 11"
    return out


@pytest.mark.slow
@pytest.mark.parametrize("ordered", [True, False])
@pytest.mark.parametrize("as_list", [True, False])
def test_every_input_gets_its_result_whatever_happens(monkeypatch, ordered, as_list):
    monkeypatch.setattr(engine, "CHUNK", 3)  # many chunks in flight, back in any order
    n = engine.PARALLEL_MIN + 20
    done: list[int] = []
    items = list(range(n)) if as_list else iter(range(n))
    got = list(
        run_batch(
            items,
            _square,
            failed=_failed,
            crashed=_crashed,
            ordered=ordered,
            jobs=2,
            progress=done.append,
        )
    )
    assert {i: r for i, _, r in got} == _expected(n)
    assert all(x == i for i, x, _ in got)
    assert sorted(i for i, _, _ in got) == list(range(n))
    if ordered:
        assert [i for i, _, _ in got] == list(range(n))
    assert sum(done) == n


def test_small_batches_run_here_and_an_exception_costs_one_input():
    n = engine.PARALLEL_MIN - 1  # 11 is not among them: it would end this very process
    items = [i for i in range(n) if i != 11]
    got = list(run_batch(items, _square, failed=_failed, crashed=_crashed))
    assert [r for _, _, r in got] == [_expected(n)[i] for i in items]


def test_forced_workers_pin_a_crash_on_its_input_even_in_a_small_batch():
    got = list(run_batch([2, 11, 3], _square, failed=_failed, crashed=_crashed, parallel=True, jobs=2))
    assert [r for _, _, r in got] == [4, "crashed 11", 9]


@pytest.mark.slow
def test_import_of_a_large_batch_goes_through_the_workers_in_input_order(tmp_path, capsys):
    import json
    from pathlib import Path

    from conftest import consistent_values
    from fixtures_import import report_text
    from nianbao.importers.command import import_command
    from nianbao.spec import get_spec

    spec = get_spec("2021")
    src = tmp_path / "报告"
    src.mkdir()
    n = engine.PARALLEL_MIN + 2
    for i in range(n):
        text = report_text(consistent_values(spec, seed=i), "cell_lines", spec=spec)
        (src / f"{i:02}局.txt").write_text(text, encoding="utf-8")
    (src / f"{n:02}坏.pdf").write_bytes(b"%PDF-1.4 not really")
    code = import_command([src], None, tmp_path / "out", fmt="json")
    files = json.loads(capsys.readouterr().out)["files"]
    assert code == 1  # the broken PDF
    assert [Path(f["path"]).name for f in files] == sorted(p.name for p in src.iterdir())
    assert [f["status"] for f in files] == ["passed"] * n + ["unreadable"]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [f"{i:02}局.xlsx" for i in range(n)]

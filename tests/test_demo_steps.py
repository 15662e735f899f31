"""The demo runs each step by calling its *_command function, not through the command line."""

from typer.testing import CliRunner

from nianbao.cli import app


def _recorder(name, sig, calls):
    def record(*a, **kw):
        bound = sig.bind(*a, **kw)
        bound.apply_defaults()
        calls.append((name, dict(bound.arguments)))
        return 0

    return record


def test_each_demo_step_makes_the_call_its_command_line_makes(monkeypatch):
    """The demo shows each step as a command line and runs it by calling the step's *_command
    function: the call is the one the CLI makes for that command line (options, defaults)."""
    import inspect

    from nianbao import check, demo
    from nianbao.aggregate import command as aggregate_cmd
    from nianbao.importers import command as import_cmd
    from nianbao.publish import command as publish_cmd
    from nianbao.template import command as template_cmd

    calls: list[tuple[str, dict]] = []
    for module, name in [
        (check, "check_command"),
        (check, "annotate_command"),
        (aggregate_cmd, "aggregate_command"),
        (publish_cmd, "publish_command"),
        (import_cmd, "import_command"),
        (template_cmd, "template_command"),
    ]:
        monkeypatch.setattr(module, name, _recorder(name, inspect.signature(getattr(module, name)), calls))
    import nianbao.template as template_pkg

    monkeypatch.setattr(template_pkg, "template_command", template_cmd.template_command)
    steps = demo._steps()
    assert len(steps) >= 10
    for args, run in steps:
        calls.clear()
        assert run() == 0
        by_demo = calls[:]
        calls.clear()
        res = CliRunner().invoke(app, args)
        assert res.exit_code == 0, (args, res.output)
        assert by_demo == calls, args

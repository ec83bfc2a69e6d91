"""Command line: ``sim run``, ``sim params``, ``sim validate``, ``sim patterns``, ``sim calibrate``, ``sim new``,
``sim sensitivity``, ``sim discover`` and more (``sim --help``).

Thin by design: it parses arguments and calls library functions. Input errors are printed as
one clear line (file, line, key, what was expected) without a traceback, exit status 2; what the
system refuses (a full disk, a folder where a file should be, no permission) is one line naming
the file, exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import os
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

from sim import __version__, first_run
from sim.errors import InputError

DEFAULT_RESULTS = Path("results")


def main(argv: list[str] | None = None) -> int:
    parser = _parser()
    try:
        args = parser.parse_args(argv)
        args.argv = list(sys.argv[1:] if argv is None else argv)  # as given, for a run handed to a child process
    except SystemExit as done:  # --help, --version, or a bad option (already said in one line)
        return done.code if isinstance(done.code, int) else 2
    if not getattr(args, "command", None):
        parser.print_help()
        return 2
    try:
        return int(args.func(args) or 0)
    except InputError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted; results already written are kept", file=sys.stderr)
        return 130
    except OSError as err:
        print(f"error: {os_error(err)}", file=sys.stderr)
        return 1


def os_error(err: OSError) -> str:
    """One line for what the system refused: the file, then why, and what to do about a full disk."""
    from sim.atomic import FULL

    file = err.filename2 or err.filename
    where = f"{file}: " if file else ""
    if err.errno in FULL:
        why = "" if err.errno == errno.ENOSPC else f" ({err.strerror})"  # a quota, or a file size limit
        return (f"{where}no space left on the device{why}; nothing half-written is kept: free some space and run "
                "the command again")
    if "No usable temporary directory" in str(err):  # tempfile could write none of them: a full disk, as a rule
        return ("no temporary folder takes any more data (/tmp and the others tempfile tries): is the disk full? Free "
                "some space and run the command again")
    if isinstance(err, IsADirectoryError):
        return f"{where}expected a file, found a folder"
    if isinstance(err, NotADirectoryError):
        return f"{where}expected a folder, found a file on its path"
    return where + " ".join(str(err.strerror or err).split())


def _count(text: str) -> int:
    """An argparse type: a whole number of at least 1 (replications, workers, resamples)."""
    from sim.errors import at_least_one

    try:
        return at_least_one(int(text) if text.strip().lstrip("+-").isdigit() else text, "")
    except InputError as err:
        raise argparse.ArgumentTypeError(err.message) from None


def _folder(text: str) -> Path:
    """An argparse type for a folder to write into (``--results``, ``--out``): a file in the way is refused at once."""
    from sim.atomic import file_in_the_way

    why = file_in_the_way(text)
    if why:
        raise argparse.ArgumentTypeError(f"expected a folder to write into, but {why}")
    return Path(text)


class _Parser(argparse.ArgumentParser):
    """argparse, with its errors as one line like every other error of the command line (and the same status)."""

    def error(self, message: str) -> NoReturn:  # type: ignore[override]
        self.exit(2, f"error: {self.prog}: {message} (`{self.prog} --help` lists the options)\n")


@contextlib.contextmanager
def _removed_if_failed(folder: Path | None) -> Iterator[None]:
    """An output folder this command makes is removed again if the command fails before writing into it."""
    existed = folder is None or folder.exists()
    try:
        yield
    except BaseException:
        if not existed and folder is not None:
            with contextlib.suppress(OSError):
                folder.rmdir()  # only if empty: nothing written is ever removed
        raise


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="sim", description="Great-power influence in Central Asia: scenarios, batch runs and "
                                             "parameters with their sources.")
    parser.add_argument("--version", action="version", version=f"sim {__version__}")
    sub = parser.add_subparsers(dest="command", parser_class=_Parser)

    run = sub.add_parser("run", help="run a scenario's experiment (design x replications) and store the results")
    run.add_argument("scenario", help="a scenario file, or the name of a library scenario (see `sim scenarios`)")
    run.add_argument("--replications", "-r", type=_count, help="override the scenario's number of replications")
    run.add_argument("--results", type=_folder, default=DEFAULT_RESULTS,
                     help="results root folder (default: results/)")
    run.add_argument("--executor", choices=("serial", "processes", "dask"), default="processes",
                     help="where runs execute (default: local processes)")
    run.add_argument("--workers", "-w", type=_count,
                     help="worker processes, or the batched engine's threads (default: all cores)")
    run.add_argument("--engine", choices=("auto", "agents", "batched"),
                     help="agents: the Mesa model run by run; batched: many runs as one compiled program, same "
                          "results (default: the scenario's outputs.engine, auto: batched for more than one run)")
    run.add_argument("--scheduler", help="Dask scheduler address (with --executor dask; default: a local cluster)")
    run.add_argument("--resume", nargs="?", const=True, default=False, metavar="ID",
                     help="complete the latest (or the given) partial experiment of this scenario")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    run.set_defaults(func=cmd_run)

    charts = sub.add_parser("charts", help="redraw the standard charts of a stored experiment (no rerun)")
    charts.add_argument("folder", type=Path, help="an experiment folder, e.g. results/baseline/latest")
    charts.add_argument("--quarter", help="quarter of the channel breakdown and the map, e.g. 2023Q4 "
                                          "(default: the last)")
    charts.add_argument("--partial", action="store_true",
                        help="draw an incomplete experiment from its finished runs (refused otherwise)")
    charts.set_defaults(func=cmd_charts)

    compare = sub.add_parser("compare", help="compare scenarios side by side in one HTML report")
    compare.add_argument("inputs", nargs="+", help="scenario files, library names or experiment folders (the first "
                                                    "is the reference)")
    compare.add_argument("--results", type=_folder, default=DEFAULT_RESULTS, help="results root folder")
    compare.add_argument("--out", type=_folder, help="report folder (default: results/compare/A-vs-B)")
    compare.add_argument("--replications", "-r", type=_count, help="replications for scenarios that must be run")
    compare.add_argument("--workers", "-w", type=_count, help="worker processes for runs (default: all cores)")
    compare.add_argument("--quiet", "-q", action="store_true")
    compare.set_defaults(func=cmd_compare)

    sensitivity = sub.add_parser("sensitivity", help="sensitivity indices (Morris, Sobol', FAST) of an experiment with "
                                                     "a sensitivity design, in an HTML report")
    sensitivity.add_argument("folder", type=Path, help="an experiment folder, e.g. results/NAME/latest")
    sensitivity.add_argument("--outcome", action="append", metavar="EXPR",
                             help="analyse this outcome instead of the scenario's `outcomes:` (repeatable; it must "
                                  "have been recorded)")
    sensitivity.add_argument("--out", type=_folder, help="report folder (default: FOLDER/sensitivity)")
    sensitivity.add_argument("--resamples", type=_count, default=1000,
                             help="bootstrap resamples for the 95%% CIs (default 1000)")
    sensitivity.add_argument("--partial", action="store_true",
                             help="analyse an incomplete experiment whose every design point has a finished run "
                                  "(refused otherwise)")
    sensitivity.set_defaults(func=cmd_sensitivity)

    discover = sub.add_parser("discover", help="scenario discovery (PRIM): which parameter ranges make a condition "
                                               "hold, in an HTML report")
    discover.add_argument("folder", type=Path, help="an experiment folder with a sampled design")
    discover.add_argument("--where", required=True, metavar="CONDITION",
                          help='e.g. "dominant(TJ, security, 2030Q4) == china" or '
                               '"share(china, TJ, security, 2030Q4) > 0.3"')
    discover.add_argument("--box", type=int, help="the box of the peeling trajectory to report (default: the widest "
                                                  "box with density of at least 0.8)")
    discover.add_argument("--min-share", type=float, default=0.5,
                          help="a design point counts when the condition holds in at least this share of its "
                               "replications (default 0.5)")
    discover.add_argument("--out", type=_folder, help="report folder (default: FOLDER/discovery/CONDITION)")
    discover.set_defaults(func=cmd_discover)

    optimise = sub.add_parser("optimise", help="robust policy search over a scenario's levers (docs/policy-search.md)")
    optimise.add_argument("scenario", help="a scenario file or library name with `levers:` and `objectives:`")
    optimise.add_argument("--evaluations", "-n", type=_count,
                          help="policies to evaluate (default: `search.evaluations`)")
    optimise.add_argument("--seeds", type=_count, help="independent searches, merged (default: `search.seeds`)")
    optimise.add_argument("--workers", "-w", type=_count,
                          help="worker processes sharing each generation's runs (default: one per core; same results)")
    optimise.add_argument("--results", type=_folder, default=DEFAULT_RESULTS, help="results root folder")
    optimise.add_argument("--out", type=_folder, help="output folder (default: results/NAME/optimise; a search "
                                                      "found there with the same settings is resumed)")
    optimise.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    optimise.set_defaults(func=cmd_optimise)

    app = sub.add_parser("app", help="start the teaching dashboard in the browser")
    app.add_argument("scenario", nargs="?", default="baseline",
                     help="scenario to start with: a library name or a file (default: baseline)")
    app.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1)")
    app.add_argument("--port", type=int, default=8765)
    app.add_argument("--scenarios", type=Path,
                     help="the folder the selector lists, saved scenarios go there too (default: the scenario's "
                          "folder; saves from a library scenario go to the current folder, or ./scenarios)")
    app.set_defaults(func=cmd_app)

    classroom = sub.add_parser("classroom",
                               help="start the classroom game: students play the powers from their browsers")
    classroom.add_argument("scenario", nargs="?", default="baseline",
                           help="the starting scenario: a library name or a file (default: baseline)")
    classroom.add_argument("--host", default="127.0.0.1",
                           help="address to listen on (default: 127.0.0.1, this computer only; 0.0.0.0 for the room)")
    classroom.add_argument("--port", type=int, default=8770)
    classroom.add_argument("--save-dir", type=Path,
                           help="where games are saved as scenario files (default: ./classroom-games for a library "
                                "scenario, the scenario's own folder for a file)")
    classroom.add_argument("--journal", type=Path,
                           help="SQLite file that keeps the rooms, so a restarted server resumes them "
                                "(default: results/classroom/rooms-PORT.sqlite)")
    classroom.add_argument("--behind-proxy", action="store_true",
                           help="believe X-Forwarded-For from a reverse proxy on this computer (else never)")
    classroom.set_defaults(func=cmd_classroom)

    schema = sub.add_parser("schema", help="print the JSON Schema of scenario files")
    schema.set_defaults(func=cmd_schema)

    params = sub.add_parser("params", help="list parameters with unit, range and source; or explain one")
    params.add_argument("name", nargs="?", help="a parameter path, or a prefix such as powers.china")
    params.add_argument("--scenario", help="show values as a scenario (a file or a library name) sets them")
    params.add_argument("--teachable", action="store_true", help="only parameters marked as teachable")
    params.add_argument("--as-of", type=int, metavar="YEAR",
                        help="list each parameter's dated sources and flag those informed only after YEAR")
    params.set_defaults(func=cmd_params)

    validate = sub.add_parser("validate", help="check scenario files without running them")
    validate.add_argument("files", nargs="+", help="scenario files or library names")
    validate.set_defaults(func=cmd_validate)

    patterns = sub.add_parser("patterns", help="check the seven baseline patterns across replications")
    patterns.add_argument("scenario", nargs="?", default="baseline", help="a file or library name (default: baseline)")
    patterns.add_argument("--replications", "-r", type=_count, default=20)
    patterns.set_defaults(func=cmd_patterns)

    scenarios = sub.add_parser("scenarios", help="list the scenario library shipped with the package")
    scenarios.set_defaults(func=cmd_scenarios)

    new = sub.add_parser("new", help="write a scenario of your own into this folder, extending a library scenario")
    new.add_argument("name", help="the new scenario's name (and file name: NAME.yaml)")
    new.add_argument("--from", dest="base", default="baseline", help="the scenario it extends (default: baseline)")
    new.add_argument("--force", action="store_true", help="overwrite an existing file")
    new.set_defaults(func=cmd_new)

    calibrate = sub.add_parser("calibrate", help="fit the parameters marked `calibrate: true` to public targets")
    calibrate.add_argument("targets", type=Path, help="a targets file, e.g. calibration/targets.yaml")
    calibrate.add_argument("--scenario", default="baseline",
                           help="the scenario to run: a file or a library name (default: baseline)")
    calibrate.add_argument("--parameters", nargs="+", metavar="PATTERN",
                           help="only the calibratable parameters matching these globs, e.g. 'model.demand.*'")
    calibrate.add_argument("--seed", type=int, default=0, help="the optimiser's seed (default 0)")
    calibrate.add_argument("--replications", "-r", type=_count, default=4,
                           help="replications per evaluation (default 4)")
    budget = calibrate.add_mutually_exclusive_group()
    budget.add_argument("--max-evaluations", type=int, metavar="N", help="stop after N model evaluations")
    budget.add_argument("--maxiter", type=int, metavar="N",
                        help="generations of differential evolution (iterations of a local method)")
    calibrate.add_argument("--method", choices=("de-powell", "differential_evolution", "powell", "nelder-mead",
                                                "abc"),
                           default="powell",
                           help="the optimiser (default: Powell's method from the documented values; de-powell "
                                "adds a differential-evolution stage before it); abc: a Bayesian calibration "
                                "(ABC-SMC), a posterior instead of one value per parameter")
    calibrate.add_argument("--prior-weight", type=float, default=None,
                           help="weight of the pull towards the documented values (default 1 for the optimisers, "
                                "0 (uniform priors) for abc)")
    calibrate.add_argument("--population", type=_count, help="abc: particles per generation (default 500)")
    calibrate.add_argument("--generations", type=_count, help="abc: at most this many generations (default 30)")
    calibrate.add_argument("--resume", metavar="ID", help="abc: continue the calibration results/calibration/ID")
    calibrate.add_argument("--no-patterns", dest="patterns", action="store_false",
                           help="do not check the brief's seven patterns")
    calibrate.add_argument("--loose", dest="strict", action="store_false",
                           help="not as of 2019: keep the patterns (some describe 2020-2023) as a filter in the "
                                "objective and let every documented value, whatever its date, centre the prior")
    calibrate.add_argument("--pattern-weight", type=float, default=1.0,
                           help="weight of the penalty for failing patterns (default 1)")
    calibrate.add_argument("--results", type=_folder, default=DEFAULT_RESULTS,
                           help="results root folder")
    calibrate.add_argument("--apply", action="store_true",
                           help="write the fitted values into sim/data/*.yaml as the shipped defaults")
    calibrate.add_argument("--quiet", "-q", action="store_true", help="no progress output")
    calibrate.set_defaults(func=cmd_calibrate)
    return parser


def _say_if_compiling() -> None:
    """The compiled code is built on its first use on a machine (half a minute to a minute and a half): say so."""
    from sim.model import step
    from sim.model.jit import is_cached

    if not is_cached(step.run_batch, step.spin_up):
        print("first use of this version of the model on this machine: compiling it (half a minute to a "
              "minute and a half, once; later runs start at once)", file=sys.stderr, flush=True)


def cmd_run(args: argparse.Namespace) -> int:
    interpreted = first_run.prepare()  # before the model is imported: numba decides then
    from sim.experiment.batch import StorageFull, run_experiment
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario
    from sim.views.chart_pool import chart_workers

    scenario = load_scenario(resolve_scenario(args.scenario))
    for warning in scenario.warnings:
        print(f"warning: {args.scenario}: {warning}", file=sys.stderr)
    if interpreted:
        if args.resume or not first_run.small((args.replications or scenario.replications) * len(scenario.design),
                                              scenario.steps):
            return first_run.hand_to_compiler(args.argv)
        first_run.start_background_build()
        if not args.quiet:
            print(FIRST_USE, file=sys.stderr, flush=True)
    elif not args.quiet:
        _say_if_compiling()
    try:
        result = run_experiment(scenario, results=args.results, executor=args.executor, workers=args.workers,
                                scheduler=args.scheduler, resume=args.resume, replications=args.replications,
                                progress=not args.quiet, engine=args.engine, chart_workers=chart_workers())
    except StorageFull as full:
        print(f"error: {full}; finished runs are kept. Free some space, then resume with: sim run {args.scenario} "
              f"--resume {full.folder.name}", file=sys.stderr)
        return 1
    if result.already_complete:
        print(f"{scenario.name}: experiment {result.folder.name} is already complete ({result.ok} of {result.runs} "
              f"runs); nothing to resume")
        print(f"results: {result.folder} (complete)")
        return 0
    print(f"{scenario.name}: {result.ok} of {result.runs} runs ok, {result.failed} failed, "
          f"{result.seconds:.1f} s {result.where}".rstrip())
    print(f"results: {result.folder} ({result.status})")
    if (result.folder / "influence.csv").exists():
        print(f"table: {result.folder / 'influence.csv'}")
    charts = sorted(result.folder.glob("*.png"))
    if charts:
        print(f"charts: {', '.join(c.name for c in charts)} (PNG and SVG) in {result.folder}")
    if result.failed:
        print(f"failed runs are listed with their errors in {result.folder / 'runs.csv'}", file=sys.stderr)
    if result.executor_error:
        print(f"error: the executor failed ({result.executor_error}); finished runs are kept. Resume with: "
              f"sim run {args.scenario} --resume {result.folder.name}", file=sys.stderr)
    if result.interrupted:
        print(f"interrupted; finished runs are kept. Resume with: sim run {args.scenario} --resume "
              f"{result.folder.name}", file=sys.stderr)
        return 130
    if result.status == "complete" and scenario.sampling is not None and scenario.sampling.sensitivity:
        _sensitivity_after_run(result.folder)
    return 0 if result.status == "complete" else 1


def _sensitivity_after_run(folder: Path) -> None:
    """A sensitivity design's run ends with its analysis (the runs stay valid if the analysis cannot be made)."""
    try:
        analysis = _analysis_extra("sensitivity")
        result = analysis.sensitivity(folder)
    except InputError as err:
        print(f"warning: the runs are stored, but the sensitivity analysis failed: {err}", file=sys.stderr)
        return
    print(f"sensitivity: {result.folder / 'report.html'} (indices.csv, charts)")


def _analysis_extra(name: str):  # type: ignore[no-untyped-def]
    """``sim.analysis.<name>``, or a clear error when the optional ``analysis`` extra is not installed."""
    import importlib

    missing = [m for m in ("SALib", "ema_workbench") if importlib.util.find_spec(m) is None]
    if missing:
        raise InputError(f"`sim {name}` needs {' and '.join(missing)}, in the optional extra: "
                         "pip install 'ca-influence-sim[analysis]'", key=name)
    return importlib.import_module(f"sim.analysis.{name}")


def cmd_charts(args: argparse.Namespace) -> int:
    from sim.experiment.batch import remake_charts
    from sim.views.chart_pool import chart_workers

    if args.quarter:
        from sim.model.calendar import format_quarter, parse_quarter

        try:
            args.quarter = format_quarter(parse_quarter(args.quarter))
        except ValueError as err:
            raise InputError(str(err), key="--quarter") from None
    made = remake_charts(args.folder, args.quarter, partial=args.partial, chart_workers=chart_workers())
    print(f"{len(made.files)} chart files written to {args.folder}, drawn from {made.used} of {made.total} runs"
          + ("" if made.used == made.total else " (--partial: an incomplete experiment)"))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    from sim.analysis.compare import compare

    with _removed_if_failed(args.out):
        report = compare(args.inputs, results=args.results, out=args.out, workers=args.workers,
                         replications=args.replications, progress=not args.quiet)
    print(f"report: {report}")
    print(f"charts: {report.parent}/overlay.png, differences.png, share-differences.png, map.png (and .svg); "
          "numbers: differences.csv")
    return 0


def cmd_sensitivity(args: argparse.Namespace) -> int:
    analysis = _analysis_extra("sensitivity")
    with _removed_if_failed(args.out):
        result = analysis.sensitivity(args.folder, outcomes=args.outcome, out=args.out, resamples=args.resamples,
                                      partial=args.partial)
    used, total = result.runs or (0, 0)
    print(f"drawn from {used} of {total} runs" + ("" if used == total else " (--partial: an incomplete experiment)"))
    for name, verdict in result.verdicts.items():
        print(f"{'ok' if verdict.holds else 'too wide'}: {name}: {verdict.sentence}")
    for name, why in result.skipped.items():
        print(f"skipped: {name}: {why}")
    print(f"report: {result.folder / 'report.html'} (indices.csv, outcomes.csv, charts as PNG and SVG)")
    return 0


def cmd_discover(args: argparse.Namespace) -> int:
    analysis = _analysis_extra("discovery")
    with _removed_if_failed(args.out):
        found = analysis.discover(args.folder, args.where, out=args.out, box=args.box, min_share=args.min_share)
    stats = found.boxes.stats
    print(f"box {found.boxes.chosen}: coverage {stats['coverage']:.2f}, density {stats['density']:.2f}, "
          f"{int(stats['res_dim'])} parameter(s) restricted")
    for row in found.boxes.limits.itertuples():
        print(f"  {row.parameter}: {row.restriction}{'' if row.significant else ' (weak: quasi-p 0.05 or more)'}")
    print(f"report: {found.report} (cases.csv, box.csv, trajectory.csv, charts as PNG and SVG)")
    return 0


def cmd_optimise(args: argparse.Namespace) -> int:
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario

    analysis = _analysis_extra("optimise")
    scenario = load_scenario(resolve_scenario(args.scenario))
    done = analysis.optimise(scenario, out=args.out, evaluations=args.evaluations, seeds=args.seeds,
                             workers=args.workers or os.cpu_count() or 1, progress=not args.quiet,
                             results=args.results)
    print(f"{len(done.evaluated):,} policies evaluated ({done.runs:,} runs, {done.seconds:.0f} s; {done.reused:,} "
          f"from the saved archive); Pareto set: {len(done.pareto)} policies")
    print(f"report: {done.report} (pareto.csv, charts); policy scenarios: {len(done.policies)} files in "
          f"{done.policies[0].parent if done.policies else '-'}")
    return 0


FIRST_USE = ("first use of this version of the model on this machine: running it as plain Python (same numbers) "
             "while the compiled model is built in the background, once")


def _serve_first_use() -> None:
    """A server started on a machine without the compiled model runs it as plain Python and builds it meanwhile.

    A dashboard or a classroom steps one model at a time (about 10 ms a step as plain Python), so it need not
    wait a minute for the compiler; the next start finds the compiled code (:mod:`sim.first_run`).
    """
    if first_run.prepare():
        first_run.start_background_build()
        print(FIRST_USE, file=sys.stderr, flush=True)


def cmd_app(args: argparse.Namespace) -> int:
    import os

    _serve_first_use()
    try:
        import solara  # noqa: F401
    except ImportError:
        raise InputError("the dashboard needs the optional extra: pip install -e '.[app]'", key="app") from None
    from sim.scenario.library import library_folder, resolve_scenario
    from sim.scenario.load import load_scenario
    from sim.teaching import dashboard as app

    path = resolve_scenario(args.scenario)
    folder = (args.scenarios or path.parent).resolve()
    if not folder.is_dir():
        raise InputError("scenario library folder not found", file=folder)
    name = load_scenario(path).name
    if not (folder / f"{name}.yaml").is_file():
        from sim.errors import closest

        names = [p.stem for p in folder.glob("*.yaml")]
        raise InputError(f"no scenario `{name}` in {folder}", key="scenario", suggestion=closest(name, names))
    saves, library = folder, library_folder().resolve()
    if args.scenarios is None and folder == library and library != Path("scenarios").resolve():
        saves = Path.cwd()  # the library (installed, or a checkout elsewhere) is not written to from another folder
    env = {**os.environ, "SIM_APP_SCENARIO": name, "SIM_SCENARIOS": str(folder), "SIM_SAVE_DIR": str(saves),
           "SOLARA_THEME_SHOW_BANNER": "false"}  # Solara's corner banner would cover the charts on a projector
    print(f"dashboard: http://{args.host}:{args.port}/  (scenario {name}; Ctrl-C stops it)", flush=True)
    command = [sys.executable, "-m", "solara", "run", app.__file__, "--host", args.host, "--port", str(args.port),
               "--production", "--no-open", "--log-level", "warning", "--no-check-version"]
    os.execve(sys.executable, command, env)  # become the server: Ctrl-C and signals reach it directly
    return 0  # pragma: no cover


def cmd_classroom(args: argparse.Namespace) -> int:
    _serve_first_use()
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise InputError("the classroom game needs the optional extra: pip install -e '.[app]'",
                         key="classroom") from None
    from sim.scenario.library import library_scenarios, resolve_scenario
    from sim.scenario.load import load_scenario
    from sim.teaching.classroom.server import is_loopback, serve

    path = resolve_scenario(args.scenario)
    if len(load_scenario(path).design) > 1:
        raise InputError("the classroom game plays one scenario, not a design of several points", file=path,
                         key="design")
    library = library_scenarios()
    in_library = path.stem in library and library[path.stem].resolve() == path.resolve()
    save_dir = args.save_dir or (Path("classroom-games") if in_library else path.parent)
    if not is_loopback(args.host):
        print(f"warning: listening on {args.host}: anyone on this network can open the student page and join a room "
              "with its code. Use it on a classroom network only, and stop the server after class.", file=sys.stderr)
    journal = args.journal or DEFAULT_RESULTS / "classroom" / f"rooms-{args.port}.sqlite"
    serve(path, args.host, args.port, save_dir, journal=journal, behind_proxy=args.behind_proxy)
    return 0


def cmd_schema(args: argparse.Namespace) -> int:
    import json

    from sim.model.parameters import default_parameters
    from sim.scenario.schema import json_schema

    print(json.dumps(json_schema([p.path for p in default_parameters()]), indent=2))
    return 0


def cmd_params(args: argparse.Namespace) -> int:
    from sim.model.parameters import default_parameters
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario

    params = load_scenario(resolve_scenario(args.scenario)).parameters if args.scenario else default_parameters()
    if args.name and args.name in params:
        print(explain(params.get(args.name)))
        return 0
    chosen = [p for p in params if not args.name or p.path.startswith(args.name + ".")]
    if args.teachable:
        chosen = [p for p in chosen if p.teachable]
    if not chosen:
        raise InputError("no parameter by that name or prefix", key=args.name, suggestion=params.suggest(args.name))
    if args.as_of is not None:
        from sim.model.provenance import as_of_table, check_year

        print(as_of_table(chosen, check_year(args.as_of, "--as-of")))
        return 0
    print(parameter_table(chosen))
    return 0


def explain(p) -> str:  # type: ignore[no-untyped-def]
    """Everything the registry knows about one parameter."""
    lines = [p.path, f"  value:  {_value(p)}"]
    if p.unit:
        lines.append(f"  unit:   {p.unit}")
    if p.range:
        lines.append(f"  range:  [{p.range[0]:g}, {p.range[1]:g}]")
    if p.choices:
        lines.append(f"  choices: {', '.join(p.choices)}")
    label = "source: " if p.source else "assumption: "
    body = p.source or p.assumption or ""
    lines.append(textwrap.fill(body, width=96, initial_indent=f"  {label}", subsequent_indent="    "))
    if getattr(p, "as_of", ()):
        lines.append("  as of:  " + "; ".join(map(str, p.as_of)))
    if p.description:
        lines.append(textwrap.fill(p.description, width=96, initial_indent="  about:  ", subsequent_indent="    "))
    lines.append(f"  file:   {Path(p.file).name if p.file else '?'}" + (f", line {p.line}" if p.line else ""))
    if p.teachable:
        lines.append("  teachable: shown as a slider in the dashboard")
    if getattr(p, "calibrate", False):
        lines.append("  calibrate: fitted by `sim calibrate` within its range")
    if getattr(p, "calibrated", None):
        lines.append(textwrap.fill(p.calibrated, width=96, initial_indent="  calibrated: ", subsequent_indent="    "))
    return "\n".join(lines)


def _value(p) -> str:  # type: ignore[no-untyped-def]
    if isinstance(p.value, list):
        return "[" + ", ".join(p.value) + "]"
    return f"{p.value:g}" if isinstance(p.value, (int, float)) else str(p.value)


def parameter_table(params) -> str:  # type: ignore[no-untyped-def]
    """A plain-text table: name, value, unit, range, source (shortened)."""
    rows = [("name", "value", "unit", "range", "source")]
    for p in params:
        rng = f"[{p.range[0]:g}, {p.range[1]:g}]" if p.range else ("|".join(p.choices) if p.choices else "")
        src = p.source if p.source else f"assumption: {p.assumption}"
        rows.append((p.path, _value(p), p.unit or "", rng, _shorten(src, 70)))
    widths = [max(len(r[i]) for r in rows) for i in range(4)]
    out = []
    for k, row in enumerate(rows):
        out.append("  ".join(cell.ljust(widths[i]) for i, cell in enumerate(row[:4])) + "  " + row[4])
        if k == 0:
            out.append("  ".join("-" * w for w in widths) + "  " + "-" * 6)
    out.append(f"\n{len(rows) - 1} parameters; `sim params NAME` shows the full source of one.")
    return "\n".join(out)


def _shorten(text: str, width: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def cmd_validate(args: argparse.Namespace) -> int:
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario

    failures = 0
    for path in args.files:
        try:
            scenario = load_scenario(resolve_scenario(path))
        except InputError as err:
            failures += 1
            print(f"error: {err}", file=sys.stderr)
            continue
        for warning in scenario.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        print(f"ok: {path} ({scenario.name}: {scenario.start_label}-{scenario.end_label}, "
              f"{len(scenario.events)} events, {scenario.replications} replications)")
    return 2 if failures else 0


def cmd_patterns(args: argparse.Namespace) -> int:
    from sim.analysis.patterns import check_patterns, format_results
    from sim.experiment.runner import run_scenario
    from sim.scenario.library import resolve_scenario
    from sim.scenario.load import load_scenario

    scenario = load_scenario(resolve_scenario(args.scenario))
    table, _ = run_scenario(scenario, args.replications)
    results = check_patterns(table)
    print(format_results(results))
    return 0 if all(r.passed for r in results) else 1


def cmd_scenarios(args: argparse.Namespace) -> int:
    from sim.scenario.library import describe, library_folder, library_scenarios

    library = library_scenarios()
    if not library:
        raise InputError("no scenario library found (is the package installed completely?)", file=library_folder())
    width = max(len(name) for name in library)
    for name, path in library.items():
        print(f"{name.ljust(width)}  {describe(path)}")
    print(f"\n{len(library)} scenarios in {library_folder()}. `sim run NAME` runs one; "
          "`sim new MY-NAME --from NAME` writes an editable copy here.")
    return 0


def cmd_new(args: argparse.Namespace) -> int:
    from sim.scenario.new import new_scenario

    path = new_scenario(args.name, from_=args.base, force=args.force)
    print(f"wrote {path} (extends {args.base}); next: sim validate {path.name} && sim run {path.name}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from sim.analysis.calibrate import (
        DEFAULT_PRIOR_WEIGHT,
        CalibrationFailed,
        Options,
        apply_fitted,
        calibrate,
        calibration_note,
    )
    from sim.scenario.library import resolve_scenario

    if args.method == "abc":
        try:
            from sim.analysis.abc import run_from_cli
        except ImportError:
            raise InputError("--method abc needs pyabc, in the optional extra: "
                             "pip install 'ca-influence-sim[analysis]'",
                             key="--method") from None
        return run_from_cli(args, resolve_scenario(args.scenario))
    weight = DEFAULT_PRIOR_WEIGHT if args.prior_weight is None else args.prior_weight
    options = Options(seed=args.seed, replications=args.replications, method=args.method, maxiter=args.maxiter,
                      max_evaluations=args.max_evaluations, prior_weight=weight, patterns=args.patterns,
                      pattern_weight=args.pattern_weight, strict=args.strict)
    try:
        result = calibrate(args.targets, resolve_scenario(args.scenario), args.parameters, options,
                           results=args.results, progress=not args.quiet)
    except CalibrationFailed as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for warning in result.warnings:
        print(f"warning: {warning}", file=sys.stderr)
    print(result.summary())
    if result.patterns_after:
        print("patterns: " + ", ".join(f"{r.number} {'holds' if r.passed else 'FAILS'} ({r.margin:+.2f})"
                                       for r in result.patterns_after))
    print(f"report: {result.folder / 'report.html'} (and report.md, fitted.yaml, targets.csv)")
    if result.status == "interrupted":
        print("interrupted; the report shows the best point so far" + (" (not applied)" if args.apply else ""),
              file=sys.stderr)
        return 130
    if args.apply:
        if not result.changed:
            print("applied: nothing, no parameter changed")
            return 0
        files = apply_fitted(result.fitted_record(), calibration_note(result))
        print(f"applied: {len(result.changed)} changed values written to {', '.join(str(f) for f in files)}")
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

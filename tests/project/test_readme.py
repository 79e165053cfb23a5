"""README.md runs: every fenced Python and shell snippet, in the order it appears, in one scratch
directory, so the README cannot drift from the code.

- ```python snippets run in one shared namespace, in order, like a notebook's cells. A snippet that
  defines ``test_*`` functions is an example for the pytest plugin: it is written to a file and run
  with pytest (``--perpsim-backend`` follows this suite's ``--backend``).
- ```sh / ```bash / ```shell snippets run each as one bash script (``set -e -o pipefail``) with
  this interpreter's bin directory first on PATH; ```console snippets run their ``$ `` lines.
  Background jobs a snippet starts are stopped when it ends.
- Other fences (```text for output, ```toml, bare ```) are not run.

The scratch directory stands for a clone's root: ``examples/`` is linked into it, so paths the
README gives relative to the repository resolve; everything a snippet writes stays in the scratch
directory. Shell commands are shortened or skipped only by the rules in :data:`RULES`, the one
place that says how the README is run differently from a terminal.
"""

from __future__ import annotations

import contextlib
import dataclasses
import os
import re
import shlex
import signal
import subprocess
import sys
import textwrap
import time
import traceback
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"
LINKED_INTO_SCRATCH = ("examples", "node_modules")
#: Where `pip install` of an example package goes (inside the scratch directory, on the
#: snippets' import path), so the suite's own environment is left as it was.
SCRATCH_SITE = ".readme-site"
PYTHON_FENCES = {"python", "py", "python3"}
SHELL_FENCES = {"sh", "bash", "shell", "console"}
SNIPPET_TIMEOUT_SECONDS = 300


@dataclasses.dataclass(frozen=True)
class Rule:
    """How the test runs a README command that starts with ``words``: ``skip`` leaves it out;
    otherwise ``options`` set an option's value (appended when absent), ``if_given`` replace the
    value of an option the command gives, and ``extra`` is appended. ``only_with`` narrows the
    rule to commands carrying those options. ``why`` is the reason, printed with the command."""

    words: tuple[str, ...]
    why: str
    skip: bool = False
    options: tuple[tuple[str, str], ...] = ()
    if_given: tuple[tuple[str, str], ...] = ()
    extra: tuple[str, ...] = ()
    only_with: tuple[str, ...] = ()

    def matches(self, argv: list[str]) -> bool:
        return (tuple(argv[:len(self.words)]) == self.words
                and all(option in argv for option in self.only_with))

    def rewrite(self, argv: list[str]) -> list[str]:
        argv = list(argv)
        for option, value in (*self.options, *self.if_given):
            given = False
            for i, word in enumerate(argv):
                if word == option and i + 1 < len(argv):
                    argv[i + 1], given = value, True
                elif word.startswith(option + "="):
                    argv[i], given = f"{option}={value}", True
            if not given and (option, value) in self.options:
                argv += [option, value]
        return argv + list(self.extra)


# The first rule that matches a command applies. Keep this short: a command that can run here runs.
INSTALLED_BY_CI = ("scripts/ci_install.sh runs this in CI: it builds the sdist and the wheel and "
                   "installs each into a fresh virtualenv with Node hidden from PATH")

RULES: tuple[Rule, ...] = (
    Rule((".venv/bin/python", "-m", "build"), skip=True, why=INSTALLED_BY_CI),
    Rule(("python3", "-m", "venv"), skip=True, why=INSTALLED_BY_CI),
    Rule(("/tmp/perpsim-env/bin/pip",), skip=True, why=INSTALLED_BY_CI),
    Rule(("/tmp/perpsim-env/bin/perpsim",), skip=True, why=INSTALLED_BY_CI),
    Rule(("make", "test"), skip=True, why="runs the whole suite, this test included"),
    Rule(("make", "demo"), skip=True,
         why="reinstalls the project into .venv (pip, npm ci); its scenario runs below as "
             "`perpsim run default`"),
    Rule(("git", "clone"), skip=True, why="needs the network; the suite runs inside the clone"),
    Rule(("pip", "install", "examples/plugins"), extra=("--no-deps", "--quiet", "--target", SCRATCH_SITE),
         why="installs the example package (and its entry points) into the scratch directory, "
             "on the snippets' import path, not into the suite's own environment"),
    Rule(("pip", "install"), skip=True,
         why="would change the suite's own environment; CI's install jobs install the sdist "
             "and the wheel into fresh virtualenvs"),
    Rule(("ray",), skip=True, why="starts or stops a Ray cluster"),
    Rule(("perpsim", "sweep"), only_with=("--address",), skip=True,
         why="needs a running Ray cluster; tests/report/test_sweep_ray.py runs the Ray engine"),
    Rule(("perpsim", "run"), if_given=(("--blocks", "240"),), extra=("--set", "agents.count=2"),
         why="two agents of each kind (and at most 240 blocks) instead of hundreds: the "
             "scenario's whole timeline, shocks and studies included, in seconds"),
    Rule(("perpsim", "sweep"), options=(("--seeds", "1"),),
         extra=("--set", "agents.count=2", "--set", "blocks=240"),
         why="one seed per grid point, two agents of each kind, 240 blocks: the grid, the run "
             "store, the aggregates and the report in seconds"),
    Rule(("perpsim", "stress"), options=(("--seeds", "1"), ("--crises", "2025-10-10")),
         extra=("--set", "agents.count=1"),
         why="one seed of the shortest crisis with one trader of each kind: the composition, "
             "the run store, the table and the page in seconds (tests/cli/test_stress_cli.py "
             "runs every crisis with five seeds)"),
    Rule(("perpsim", "attack"), if_given=(("--budget", "1e6,5e6"),),
         extra=("--vary", "venue_leg=0.3", "--vary", "pump_blocks=1", "--vary", "exit=close"),
         why="two budgets and one attack shape: the grid, the run store, the "
             "table and the page in seconds (tests/sim/test_attackers.py checks each defence)"),
    Rule(("perpsim", "fuzz"), options=(("--steps", "200"),),
         why="CI's fuzz campaign is 200 sequences of 30 steps (tests/testing/test_fuzz.py)"),
    Rule(("perpsim", "bench"), skip=True,
         why="minutes even with --quick; tests/cli/test_bench.py runs its parts (--slow: all)"),
)


@dataclasses.dataclass(frozen=True)
class Command:
    line: int  # README line the command starts on
    text: str  # as written (continuations joined, heredoc body included)
    run: str | None  # as run; None: skipped
    rule: Rule | None


@dataclasses.dataclass(frozen=True)
class Snippet:
    number: int  # 1-based among the snippets the test runs
    line: int  # README line of the first line of code (after the fence)
    lang: str
    code: str

    @property
    def label(self) -> str:
        return f"README.md snippet {self.number} ({self.lang}, line {self.line})"


def read_snippets(text: str) -> list[Snippet]:
    """The runnable fenced blocks of a Markdown text, in order."""
    snippets: list[Snippet] = []
    fence = re.compile(r"^(\s*)(```+|~~~+)\s*([\w+-]*)")
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        opened = fence.match(lines[i])
        if not opened:
            i += 1
            continue
        indent, marker, lang = opened.groups()
        body_start = i + 1
        i += 1
        while i < len(lines) and not lines[i].strip().startswith(marker):
            i += 1
        if i == len(lines):
            raise ValueError(f"README.md:{body_start}: fence {marker}{lang} is never closed")
        lang = lang.lower()
        if lang in PYTHON_FENCES | SHELL_FENCES:
            body = "\n".join(line[len(indent):] for line in lines[body_start:i])
            snippets.append(Snippet(len(snippets) + 1, body_start + 1, lang, body))
        i += 1
    return snippets


HEREDOC = re.compile(r"<<-?\s*(['\"]?)(\w+)\1")
OPERATORS = set("|&;<>()")


def shell_commands(snippet: Snippet) -> list[Command]:
    """The snippet's commands: continuation lines joined, heredoc bodies kept with their
    command, comment-only and blank lines dropped, each rewritten or skipped by :data:`RULES`."""
    lines = snippet.code.splitlines()
    console = snippet.lang == "console"
    commands: list[Command] = []
    i = 0
    while i < len(lines):
        start = i
        line = lines[i]
        i += 1
        if console:
            if not line.startswith("$ "):
                continue  # output
            line = line[2:]
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        logical = line
        while logical.endswith("\\") and i < len(lines):
            logical = logical[:-1] + " " + lines[i].strip().removeprefix("> ")
            i += 1
        text = logical
        heredoc = HEREDOC.search(logical)
        if heredoc:
            body = []
            while i < len(lines) and lines[i].strip() != heredoc.group(2):
                body.append(lines[i])
                i += 1
            text = "\n".join([logical, *body, heredoc.group(2)])
            i += 1
        commands.append(rewritten(snippet, snippet.line + start, logical, text))
    return commands


def rewritten(snippet: Snippet, line: int, first_line: str, text: str) -> Command:
    try:
        argv = shlex.split(first_line, comments=True)
    except ValueError as error:
        raise ValueError(f"{snippet.label}, README.md:{line}: `{first_line}`: {error}") from None
    rule = next((r for r in RULES if r.matches(argv)), None)
    if rule is None:
        return Command(line, text, text, None)
    if rule.skip:
        return Command(line, text, None, rule)
    lexer = shlex.shlex(first_line, posix=True, punctuation_chars=True)
    lexer.whitespace_split = True
    lexer.commenters = "#"
    if first_line != text or any(set(token) <= OPERATORS for token in lexer):
        raise ValueError(f"{snippet.label}, README.md:{line}: `{first_line}` is a compound "
                         "command; a rule in tests/project/test_readme.py can only rewrite a simple one")
    return Command(line, text, shlex.join(rule.rewrite(argv)), rule)


SNIPPETS = read_snippets(README.read_text())


@pytest.fixture(scope="module")
def scratch(tmp_path_factory) -> Path:
    """A directory standing in for a clone's root (see the module docstring)."""
    root = tmp_path_factory.mktemp("readme")
    for name in LINKED_INTO_SCRATCH:
        (root / name).symlink_to(REPO / name, target_is_directory=True)
    return root


@pytest.fixture(scope="module")
def namespace() -> dict:
    """The Python snippets' shared globals, as in one interactive session."""
    return {"__name__": "__main__"}


@pytest.fixture(scope="module")
def environment(scratch: Path) -> dict[str, str]:
    """The shell snippets' environment: this interpreter's scripts first on PATH and this
    checkout's ``protocol`` first on the import path, so `perpsim` is the code under test, then
    the scratch directory's packages (:data:`SCRATCH_SITE`)."""
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join([str(Path(sys.executable).parent), env.get("PATH", "")])
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(REPO), str(scratch / SCRATCH_SITE),
                                                      env.get("PYTHONPATH")]))
    env.pop("PYTEST_ADDOPTS", None)
    return env


def tail(text: str, lines: int = 25) -> str:
    return "\n".join(text.rstrip().splitlines()[-lines:])


def run_python(snippet: Snippet, namespace: dict, scratch: Path) -> None:
    # Padded to the snippet's README line, so tracebacks point at README.md's own lines.
    code = compile("\n" * (snippet.line - 1) + snippet.code, str(README), "exec")
    with contextlib.chdir(scratch):
        try:
            exec(code, namespace)
        except Exception as raised:  # reported below with the README line it came from
            error = raised
        else:
            return
    frames = [f for f in traceback.extract_tb(error.__traceback__) if f.filename == str(README)]
    where = frames[-1].lineno if frames else snippet.line
    source = snippet.code.splitlines()[where - snippet.line].strip()
    trace = "".join(traceback.format_exception(error))
    pytest.fail(f"{snippet.label} failed at README.md:{where}: {source}\n"
                f"{type(error).__name__}: {error}\n\n{tail(trace)}", pytrace=False)


def run_plugin_example(snippet: Snippet, scratch: Path, env: dict, backend: str) -> None:
    test_file = scratch / f"test_readme_snippet_{snippet.number}.py"
    test_file.write_text(snippet.code + "\n")
    plugin_backend = backend if backend in ("pyevm", "revm", "all") else "revm"
    argv = [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir",
            str(scratch), "--perpsim-backend", plugin_backend, str(test_file)]
    done = subprocess.run(argv, cwd=scratch, env=env, capture_output=True, text=True,
                          timeout=SNIPPET_TIMEOUT_SECONDS)
    if done.returncode != 0:
        pytest.fail(f"{snippet.label} (a pytest example) failed: {shlex.join(argv)} exited "
                    f"{done.returncode}\n{tail(done.stdout + done.stderr)}", pytrace=False)


@dataclasses.dataclass(frozen=True)
class Ran:
    command: Command
    seconds: float | None  # None: skipped, or not reached


def run_shell(snippet: Snippet, scratch: Path, env: dict) -> list[Ran]:
    """Run the snippet's commands as one bash script (``set -e``: it stops at the first
    failure) and time each; on failure, name the command. Output goes to files, not pipes, so a
    background job holding them open cannot hang the test; the process group is stopped at the
    end, background jobs included."""
    commands = shell_commands(snippet)
    work = scratch / ".readme" / f"snippet-{snippet.number}"
    work.mkdir(parents=True, exist_ok=True)
    starts = work / "starts"  # "index seconds" before each command
    script = ["set -e -o pipefail"]
    for index, command in enumerate(commands):
        if command.run is not None:
            script += [f'echo "{index} $EPOCHREALTIME" >> "$README_STARTS"', command.run]
    script.append(f'echo "{len(commands)} $EPOCHREALTIME" >> "$README_STARTS"')
    with open(work / "stdout", "w") as stdout, open(work / "stderr", "w") as stderr:
        process = subprocess.Popen(["bash", "-c", "\n".join(script)], cwd=scratch,
                                   env={**env, "README_STARTS": str(starts)}, stdout=stdout,
                                   stderr=stderr, start_new_session=True)
        try:
            process.wait(timeout=SNIPPET_TIMEOUT_SECONDS)
        except subprocess.TimeoutExpired:
            pass
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    marks = [line.split() for line in starts.read_text().splitlines()] if starts.exists() else []
    started = {int(i): float(t) for i, t in marks}
    ran = []
    for index, command in enumerate(commands):
        later = [t for i, t in started.items() if i > index]
        seconds = (min(later) - started[index]) if index in started and later else None
        ran.append(Ran(command, seconds))
    if process.returncode != 0:
        culprit = commands[max(started)] if started and max(started) < len(commands) else None
        where = (f"README.md:{culprit.line}: `{culprit.text}`\n  run as `{culprit.run}`"
                 if culprit else "(no command started)")
        what = (f"did not finish in {SNIPPET_TIMEOUT_SECONDS} s" if process.returncode < 0
                else f"failed (exit {process.returncode})")
        pytest.fail(f"{snippet.label} {what} at {where}\n"
                    f"--- stderr (tail) ---\n{tail((work / 'stderr').read_text())}\n"
                    f"--- stdout (tail) ---\n{tail((work / 'stdout').read_text(), 10)}",
                    pytrace=False)
    return ran


def defines_tests(code: str) -> bool:
    return re.search(r"^def test_\w*\(", code, re.MULTILINE) is not None


@pytest.mark.parametrize("snippet", SNIPPETS, ids=lambda s: f"{s.number:02d}-L{s.line}-{s.lang}")
def test_readme_snippet(snippet: Snippet, scratch, namespace, environment, request):
    started = time.perf_counter()
    if snippet.lang in SHELL_FENCES:
        for ran in run_shell(snippet, scratch, environment):
            command = ran.command
            shown = command.run or command.text
            shown = shown if "\n" not in shown else shown.splitlines()[0] + " ..."
            if command.run is None:
                print(f"README.md:{command.line}: skipped `{shown}`: {command.rule.why}")
            else:
                rule = f" (rule {' '.join(command.rule.words)})" if command.rule else ""
                print(f"README.md:{command.line}: {ran.seconds:.1f} s `{shown}`{rule}")
    elif defines_tests(snippet.code):
        run_plugin_example(snippet, scratch, environment, request.config.getoption("--backend"))
    else:
        run_python(snippet, namespace, scratch)
    print(f"{snippet.label}: {time.perf_counter() - started:.1f} s")


# The reader and the rewriting, on their own: a rule must do exactly what the table says.

def test_snippets_are_read_with_their_lines_and_fences():
    text = textwrap.dedent("""\
        intro
        ```python
        x = 1
        ```
        ```text
        $ not run
        ```
        ```sh
        perpsim run default --blocks 1440 --out out/a   # comment
        perpsim sweep default --set 'a=1,2' \\
            --seeds 100
        cat > my.toml <<'EOF'
        blocks = 5
        EOF
        make test
        ```
        ```console
        $ perpsim scenarios
        default  ...
        ```
        """)
    python, shell, console = read_snippets(text)
    assert (python.number, python.line, python.lang, python.code) == (1, 3, "python", "x = 1")
    assert (shell.number, shell.line, shell.lang) == (2, 9, "sh")
    run, sweep, heredoc, make = shell_commands(shell)
    assert (run.line, run.run) == (
        9, "perpsim run default --blocks 240 --out out/a --set agents.count=2")
    assert (sweep.line, sweep.run) == (10, "perpsim sweep default --set a=1,2 --seeds 1 "
                                           "--set agents.count=2 --set blocks=240")
    assert heredoc.line == 12 and heredoc.run == "cat > my.toml <<'EOF'\nblocks = 5\nEOF"
    assert heredoc.rule is None
    assert make.run is None and make.rule.skip and make.line == 15
    (scenarios,) = shell_commands(console)
    assert (scenarios.line, scenarios.run) == (18, "perpsim scenarios")


def test_options_are_set_appended_or_left_out_as_the_rule_says():
    (command,) = shell_commands(Snippet(1, 1, "sh", "perpsim run cascade  # a crash"))
    assert command.run == "perpsim run cascade --set agents.count=2"
    (command,) = shell_commands(Snippet(1, 1, "sh", "perpsim sweep adl --set x=1"))
    assert command.run == ("perpsim sweep adl --set x=1 --seeds 1 --set agents.count=2 "
                           "--set blocks=240")
    (command,) = shell_commands(Snippet(1, 1, "sh", "perpsim fuzz --steps 100000"))
    assert command.run == "perpsim fuzz --steps 200"
    (command,) = shell_commands(Snippet(1, 1, "sh", "perpsim fuzz --steps=100000 --seed 3"))
    assert command.run == "perpsim fuzz --steps=200 --seed 3"
    (command,) = shell_commands(Snippet(1, 1, "sh", "perpsim sweep x --address auto --seeds 9"))
    assert command.run is None and command.rule.only_with == ("--address",)


def test_a_compound_command_that_needs_a_rewrite_is_refused():
    with pytest.raises(ValueError, match=r"README.md:4: `perpsim run default \| tee log`"):
        shell_commands(Snippet(1, 4, "sh", "perpsim run default | tee log"))


def test_an_unclosed_fence_is_refused_with_its_line():
    with pytest.raises(ValueError, match="README.md:2: fence ```sh is never closed"):
        read_snippets("text\n```sh\nperpsim scenarios\n")


def test_a_failing_command_is_named_with_its_line_and_stderr(tmp_path):
    snippet = Snippet(3, 40, "sh", "echo first > first.txt\n"
                                   "perpsim run no-such-scenario   # fails\n"
                                   "echo never > never.txt")
    env = {**os.environ, "PATH": os.pathsep.join([str(Path(sys.executable).parent),
                                                  os.environ["PATH"]])}
    with pytest.raises(pytest.fail.Exception) as failed:
        run_shell(snippet, tmp_path, env)
    message = str(failed.value)
    assert message.startswith("README.md snippet 3 (sh, line 40) failed (exit 1) at README.md:41: "
                              "`perpsim run no-such-scenario   # fails`\n  run as `perpsim run "
                              "no-such-scenario --set agents.count=2`\n--- stderr (tail) ---\n")
    assert "no-such-scenario" in message.split("--- stderr (tail) ---")[1]
    assert (tmp_path / "first.txt").exists() and not (tmp_path / "never.txt").exists()


def test_a_failing_python_line_is_named_and_the_namespace_carries_over(tmp_path):
    namespace: dict = {}
    run_python(Snippet(1, 10, "python", "from pathlib import Path\nhere = Path.cwd()"), namespace,
               tmp_path)
    assert namespace["here"] == tmp_path and Path.cwd() != tmp_path
    with pytest.raises(pytest.fail.Exception) as failed:
        run_python(Snippet(2, 20, "python", "x = here\n\nprint(bob)"), namespace, tmp_path)
    assert str(failed.value).startswith(
        "README.md snippet 2 (python, line 20) failed at README.md:22: print(bob)\n"
        "NameError: name 'bob' is not defined\n")


def test_background_jobs_are_stopped_when_the_snippet_ends(tmp_path):
    started = time.perf_counter()
    ran = run_shell(Snippet(1, 1, "sh", "sleep 600 &\necho $! > job.pid\ntrue"), tmp_path,
                    dict(os.environ))
    assert time.perf_counter() - started < 30
    assert [r.command.run for r in ran] == ["sleep 600 &", "echo $! > job.pid", "true"]
    assert all(r.seconds is not None and r.seconds >= 0 for r in ran)
    pid = int((tmp_path / "job.pid").read_text())
    deadline = time.monotonic() + 10
    while running(pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not running(pid)


def running(pid: int) -> bool:
    """Alive and not a zombie (a killed orphan waits for init to reap it)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


# ------------------------------------------------------------------ figures and links that are true
def readme_facts():
    """scripts/readme_facts.py as a module: the README's figures the code computes."""
    import importlib.util

    spec = importlib.util.spec_from_file_location("readme_facts", REPO / "scripts" / "readme_facts.py")
    module = sys.modules.get(spec.name)
    if module is None:
        module = sys.modules[spec.name] = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
    return module


def test_figures_the_code_computes_are_current():
    """Agent counts, the built-in scenarios and the contract size table, recomputed (fix with
    ``python scripts/readme_facts.py``)."""
    facts = readme_facts()
    assert [f"{fact.name}: {facts.describe(shown, value)}"
            for fact, shown, value in facts.stale(README.read_text(encoding="utf-8"))] == []


def test_a_stale_figure_is_found_and_rewritten():
    facts = readme_facts()
    text = README.read_text(encoding="utf-8")
    old = text.replace("`external-keeper`, ", "").replace("scenario's 195 agents",
                                                           "scenario's 190 agents")
    assert [fact.name for fact, _, _ in facts.stale(old)] == [
        "agents the invariant check reads", "built-in scenarios"]
    new = facts.rewrite(old)
    assert facts.stale(new) == [] and "scenario's 195 agents" in new
    assert ("`default`, `adl`, `adl-modules`, `attack-jelly`, `attack-mango`, `attack-whale`, "
            "`cascade`, `crash`, `crisis-2020-03-12`, `crisis-2021-05-19`, "
            "`crisis-2022-05-luna`, `crisis-2022-11-ftx`, `crisis-2025-10-10`, `external-keeper`, "
            "`funding-arb`, `funding-squeeze`, ") in new
    assert facts.stale(old.replace("Built-in scenarios", "Scenarios"))[1][1] is None  # sentence gone


@pytest.mark.slow
def test_package_sizes_are_current():
    """Builds the wheel and the sdist (about 20 s) and compares their sizes, to 10 kB."""
    facts = readme_facts()
    assert [f"{fact.name}: {facts.describe(shown, value)}" for fact, shown, value
            in facts.stale(README.read_text(encoding="utf-8"), packages=True)] == []


# paths the README names that are not in the repository: where a wheel installs things
NOT_REPOSITORY_PATHS = {"protocol/build/npm", "protocol/contracts"}


def test_the_paths_and_links_the_readme_names_exist():
    text = README.read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:docs|scripts|tests|examples|protocol|contracts|\.ci)/[\w./*-]+)`",
                           text)) | {t for t in re.findall(r"\]\(([^)\s#]+)\)", text)
                                     if not t.startswith(("http:", "https:"))}
    missing = sorted(t for t in named - NOT_REPOSITORY_PATHS
                     if not (list(REPO.glob(t)) if "*" in t else (REPO / t).exists()))
    assert missing == []
    assert "docs/SPEC.md" in named
    for doc in (README, REPO / "docs" / "SPEC.md", REPO / "docs" / "PROPERTIES.md"):
        assert "shared/" not in doc.read_text(encoding="utf-8"), doc  # the rules' old home

"""A fuzzing campaign: stimuli in batches through one Run, findings grouped, minimized
and written.

Every batch of stimuli goes to `Run.run` at once, so the pool's workers keep every
peer busy; each case's documents are reduced to an `Outcome` and dropped. A stimulus
whose signature (outcome.py) no known case shows and no earlier stimulus gave opens
a finding; later ones with that signature only count. New findings are minimized
after their batch (minimize.py), so when the budget ends the findings are ready;
then each is written as a case file, run once more under its own id to fill in its
expectations, and run a last time from the file to check that it loads and passes.
A finding that does not come back when run again is dropped and counted as unstable.
"""
from __future__ import annotations

import itertools
import os
import threading
import time
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterator, Sequence

from ..compare import Verdict
from ..errors import UserError
from ..peers.pool import peer_name
from ..peers.protocol import PeerError, PeerFailure, Unsupported
from ..runs import Run
from ..scenario.model import Case
from . import findings as fnd
from .bases import Base
from .generate import Stimuli, Stimulus
from .minimize import minimize
from .outcome import Known, Outcome, case_words

DEFAULT_BATCH = 64
#: Batches running at once (Campaign.fuzz). With three, more runs overlap and each process
#: does more work for each wake-up: 4.3-4.4 ms of CPU a handshake against 4.6-4.8 with two,
#: and the campaign mix 39.9 / 40.1 / 38.6 stimuli a second against 37.7 / 35.9 / 36.7,
#: taking turns in one process; four, no better (docs/fuzz.md).
IN_FLIGHT = 3
#: Batches between descriptor counts at rest; a leak is then looked for among their stimuli.
#: Each count drains the pipeline, which idles the cores while the last runs wait out
#: stalled handshakes (up to the connection timeout): every 6 batches that cost the
#: campaign mix about 4% of its rate (docs/fuzz.md).
REST_EVERY = 24
PROGRESS_SECONDS = 10.0
#: Python peer failures kept as examples in findings.json.
PYTHON_EXAMPLES = 20


@dataclass
class Stats:
    stimuli: int = 0
    runs: int = 0
    handshakes: int = 0
    refused: int = 0  # draws the knob check refused (generate.py)
    python_errors: int = 0  # stimuli the Python peer could not play
    incomplete: int = 0  # stimuli some release did not finish (interrupted)
    unstable: int = 0  # findings that did not come back when run again
    minimize_stimuli: int = 0
    by_phase: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def to_json(self) -> dict[str, Any]:
        return {"stimuli": self.stimuli, "runs": self.runs, "handshakes": self.handshakes,
                "refused_draws": self.refused, "python_errors": self.python_errors, "incomplete": self.incomplete,
                "unstable_findings": self.unstable, "minimize_stimuli": self.minimize_stimuli,
                "stimuli_by_phase": dict(sorted(self.by_phase.items()))}


class Campaign:
    """Fuzz with `run` on its releases until `count` stimuli or `budget` seconds or `stop`."""

    def __init__(self, run: Run, known: Known, seed: int, *, count: int | None = None, budget: float | None = None,
                 batch: int = DEFAULT_BATCH, stop: threading.Event | None = None,
                 say: Callable[[str], None] | None = None, bases: Sequence[Base] | None = None,
                 minimizing: bool = True) -> None:
        self.run, self.known, self.seed = run, known, seed
        self.count, self.budget, self.batch = count, budget, batch
        self.stop = stop or threading.Event()
        self.say = say or (lambda text: None)
        self.stats = Stats()
        self.findings: dict[tuple[str, Any], fnd.Finding] = {}
        self.python_examples: list[dict[str, Any]] = []
        self._stream = Stimuli(seed, bases)
        self.minimizing = minimizing  # off: findings are grouped only (benchmarks/fuzz.py)
        self._tests = itertools.count()
        self._lock = threading.Lock()
        self._fd_base: dict[str, tuple[int, int]] = {}  # release -> (pid, descriptors) at rest

    @property
    def releases(self) -> list[str]:
        return self.run.releases.versions

    # -- running stimuli --------------------------------------------------------

    def outcomes(self, stimuli: Sequence[Stimulus], prefix: str,
                 stop: threading.Event | None = None) -> list[Outcome | None]:
        """Each stimulus on every release (one Run.run); None for one a release did not finish."""
        made: list[Case | None] = []
        for s in stimuli:
            try:
                made.append(s.case(f"{prefix}/{s.index}-{next(self._tests)}"))
            except UserError:  # a minimizer's candidate the loader refuses: it does not keep anything
                made.append(None)
        cases = [c for c in made if c is not None]
        result = self.run.run(cases, stop=stop, outcome_only=True)  # outcomes are all it keeps
        with self._lock:  # batches ahead and a minimization run at once
            self.stats.runs += sum(len(r.docs) for r in result.results)
            self.stats.handshakes += result.handshakes
        by_id = {r.case.id: r for r in result.results}
        out: list[Outcome | None] = []
        for case in made:
            r = by_id.get(case.id) if case is not None else None
            outcome = Outcome.of(r.docs, r.classes) if r is not None else None
            out.append(outcome if outcome is not None and outcome.complete else None)
        self._recover_given_up()
        return out

    def _recover_given_up(self) -> None:
        """A peer the pool gave up on (it hung twice) is a finding, not the end of the campaign:
        let the pool start it again."""
        pool = self.run.pool
        for key in list(pool.given_up):
            self.say(f"{peer_name(key)} stopped answering; starting it again")
            pool.given_up.pop(key, None)
            pool.hangs.pop(key, None)
        for key, what in list(pool.failed_at_rest.items()):  # no stimulus to blame
            self.say(f"{peer_name(key)} failed between batches ({what}); starting it again")
            pool.failed_at_rest.pop(key, None)

    # -- the campaign ---------------------------------------------------------

    def _batches(self) -> Iterator[list[Stimulus]]:
        stream = iter(self._stream)
        sent = 0
        while True:
            n = self.batch if self.count is None else min(self.batch, self.count - sent)
            if n <= 0:
                return
            sent += n
            yield list(itertools.islice(stream, n))

    def fuzz(self) -> None:
        """Run stimuli and minimize what they find, until the count, the budget or a stop.

        IN_FLIGHT batches run at once, a new one as soon as one ends, so a batch waiting
        for its slowest runs (a stimulus that waits out the connection timeout) does not
        leave the cores idle, nor do the peers wait while findings are judged and
        minimized. Results are judged in stream order. Every REST_EVERY batches the
        pipeline drains, and descriptors are counted with the peers at rest."""
        started = last = time.monotonic()
        prefix = f"fuzz-{self.seed}"

        def more() -> bool:
            return not self.stop.is_set() and (self.budget is None or time.monotonic() - started < self.budget)
        batches = self._batches()
        self._at_rest_before_any()
        with ThreadPoolExecutor(max_workers=IN_FLIGHT) as ahead:
            submitted: deque[tuple[list[Stimulus], Future]] = deque()  # in stream order, not yet judged
            unchecked: list[list[Stimulus]] = []  # judged since the last count at rest

            def fill() -> None:
                while (sum(not f.done() for _, f in submitted) < IN_FLIGHT
                       and len(unchecked) + len(submitted) < REST_EVERY):
                    batch = next(batches, None) if more() else None
                    if not batch:
                        return
                    submitted.append((batch, ahead.submit(self.outcomes, batch, prefix, self.stop)))

            def count_at_rest() -> None:
                self._check_leaks([s for b in unchecked for s in b])  # nothing is in flight
                unchecked.clear()
            fill()
            while submitted:
                batch, future = submitted[0]
                if not future.done():  # a later batch may end first: start the next in its place
                    wait([f for _, f in submitted if not f.done()], return_when=FIRST_COMPLETED)
                    fill()
                    continue
                submitted.popleft()
                fresh = self._judge(batch, future.result())
                unchecked.append(batch)
                if not submitted and len(unchecked) >= REST_EVERY:
                    count_at_rest()
                fill()
                for f in fresh if self.minimizing else ():
                    if self.stop.is_set():
                        break
                    self._minimize(f)
                if not submitted and unchecked:  # the stream, the budget or a stop ended it
                    fill()
                    if not submitted:
                        count_at_rest()
                if time.monotonic() - last >= PROGRESS_SECONDS:
                    last = time.monotonic()
                    self.say(self.progress(time.monotonic() - started))
        self.stats.seconds = time.monotonic() - started
        self.stats.refused = self._stream.refused

    def _at_rest_before_any(self) -> None:
        """Every release's peer started, made to open a socket and close it, and its
        descriptors counted: the first count at rest, several batches in, then has something
        to compare with. (Go's runtime opens its poller, an epoll with an eventfd or a pipe, with the
        first socket and keeps them: counted before that, every peer looked to have grown.)
        The peers the known cases started under a GODEBUG are closed first: no stimulus sets one."""
        self.run.pool.close_godebug()
        for release in self.releases:
            try:
                peer = self.run.pool.get(release)
                peer.call("configure", {"name": "rest-probe", "role": "server", "config": {}})
                peer.call("listen", {"name": "rest-probe-listener", "endpoint": "rest-probe"})
                peer.call("drop", {"prefix": "rest-probe"})
            except (PeerFailure, PeerError, Unsupported):
                continue  # met again, and reported, by the first batch
        self._fd_base.update(self._fds())

    def progress(self, seconds: float) -> str:
        s = self.stats
        rate = s.stimuli / seconds if seconds else 0.0
        found = len(self.findings) - s.unstable
        return (f"{s.stimuli} stimuli ({rate:.1f}/s, {s.handshakes / seconds if seconds else 0:.0f} handshakes/s), "
                f"{found} finding{'s' if found != 1 else ''}")

    def _judge(self, batch: Sequence[Stimulus], outcomes: Sequence[Outcome | None]) -> list[fnd.Finding]:
        fresh = []
        for s, o in zip(batch, outcomes):
            if o is None:
                self.stats.incomplete += 1
                continue
            self.stats.stimuli += 1
            self.stats.by_phase[s.phase] = self.stats.by_phase.get(s.phase, 0) + 1
            if o.python_error:
                self.stats.python_errors += 1
                if len(self.python_examples) < PYTHON_EXAMPLES:
                    self.python_examples.append({"stimulus": s.to_json(), "error": o.python_error[:500]})
                continue
            new = self.known.new(o)
            if not new:
                continue
            signature = new[0]  # the most telling kind
            if signature in self.findings:
                self.findings[signature].count += 1
                continue
            f = fnd.Finding(signature[0], signature[1], s, o,
                            explained_by=self.known.explains(o, new, case_words(s.case("finding"))))
            self.findings[signature] = f
            fresh.append(f)
            self.say(f"finding: {f.kind_text()}: {fnd.partition_text(f.partition)}: {s.label()[:160]}{f.hint()}")
        return fresh

    def _minimize(self, f: fnd.Finding) -> None:
        def runner(stimuli: Sequence[Stimulus]) -> list[Outcome | None]:
            with self._lock:
                self.stats.minimize_stimuli += len(stimuli)
            return self.outcomes(stimuli, f"fuzz-{self.seed}-min", self.stop)
        m = minimize(f.first, f.signature, runner)
        f.tests = m.tests
        f.minimized = m.stimulus if m.reproduced else None
        if m.reproduced:
            f.reproduced = True
            # The hint again, by what the minimized stimulus still sets up: the stimulus as
            # found may carry a base or knobs that do not matter (seed 41's huge ticket was
            # found with a client certificate, which named a client-auth case for 1.19.8's
            # split where the HRR binder case is what it does).
            f.explained_by = self.known.explains(f.outcome, [f.signature],
                                                 case_words(m.stimulus.case("finding"))) or f.explained_by
        elif self.stop.is_set():  # interrupted before it could tell: written as found
            f.reproduced = None
        else:
            f.reproduced = False
            self.stats.unstable += 1
            self.say(f"unstable: {f.kind}: {f.first.label()[:160]} did not do it again; dropped")

    # -- leaks -----------------------------------------------------------------

    def _fds(self) -> dict[str, tuple[int, int]]:
        """release -> (pid, open file descriptors) of each local Go peer that is running."""
        out = {}
        running = self.run.pool.running()
        for release in self.releases:
            peer = running.get(release)
            if peer is None or peer.proc is None:
                continue
            try:
                out[release] = (peer.proc.pid, len(os.listdir(f"/proc/{peer.proc.pid}/fd")))
            except OSError:  # not a local process (docker, external), or no /proc
                continue
        return out

    def _check_leaks(self, batch: Sequence[Stimulus]) -> None:
        """A Go peer with more descriptors open at rest than before the batch kept a
        connection or a listener of some stimulus: find which (by halves) and record it."""
        now = self._fds()
        grown = [r for r, (pid, n) in now.items()
                 if r in self._fd_base and self._fd_base[r][0] == pid and n > self._fd_base[r][1]]
        self._fd_base.update(now)
        if grown and not self.stop.is_set():
            self._hunt_leak(batch, grown)
            self._fd_base.update(self._fds())

    def _leaking(self, stimuli: Sequence[Stimulus], releases: Sequence[str]) -> list[str]:
        before = self._fds()
        self.outcomes(stimuli, f"fuzz-{self.seed}-leak", self.stop)
        after = self._fds()
        return [r for r in releases if r in before and r in after and before[r][0] == after[r][0]
                and after[r][1] > before[r][1]]

    def _hunt_leak(self, batch: Sequence[Stimulus], releases: Sequence[str]) -> None:
        self.say(f"Go {', '.join(releases)}: more file descriptors open after the last batches; looking for the stimulus")
        if not self._leaking(batch, releases):
            self.say("the batches did not do it again; no leak recorded")
            return
        suspects = list(batch)
        while len(suspects) > 1:
            half = suspects[:len(suspects) // 2]
            suspects = half if self._leaking(half, releases) else suspects[len(half):]
        leaking = self._leaking(suspects, releases)
        if not leaking:
            self.say("no single stimulus of the batches does it alone; no leak recorded")
            return
        stimulus = suspects[0]
        others = tuple(r for r in self.releases if r not in leaking)
        partition = tuple(g for g in (tuple(leaking), others) if g)
        signature = ("peer-leak", partition)
        if signature in self.findings:
            self.findings[signature].count += 1
            return
        outcome = self.outcomes([stimulus], f"fuzz-{self.seed}-leak")[0] or Outcome(tuple(self.releases), ())
        self.findings[signature] = fnd.Finding("peer-leak", partition, stimulus, outcome, reproduced=True)
        self.say(f"finding: peer-leak: {', '.join(leaking)}: {stimulus.label()[:160]}")

    # -- writing ----------------------------------------------------------------

    def kept(self) -> list[fnd.Finding]:
        """The findings to write, in the order they were first met."""
        out = [f for f in self.findings.values() if f.reproduced is not False]
        return sorted(out, key=lambda f: f.first.index)

    def write(self, out: Path) -> list[fnd.Finding]:
        """Each kept finding as a case file in `out` (expectations from a run under its own id),
        then every file run once more as `tlsdiff run --cases out` would; returns those written."""
        out.mkdir(parents=True, exist_ok=True)
        todo = self.kept()
        order = self.releases
        data: dict[str, dict[str, Any]] = {}
        cases: list[Case] = []
        for f in todo:
            f.file = f.stem() + ".yaml"
            data[f.file] = fnd.case_data(f, self.seed)
            fnd.write_case(out / f.file, data[f.file])
            cases.append(fnd.load(out / f.file, out))
        if not cases:
            return []
        first = self.run.run(cases)
        self.stats.runs += sum(len(r.docs) for r in first.results)
        written = []
        for f, r in zip(todo, first.results):
            outcome = Outcome.of(r.docs, r.classes)
            if not _holds(f, outcome):  # changed its mind under its own id
                f.verified = False
                continue
            f.landings = fnd.flip_landings(f.final, r.docs)
            if f.landings:  # the description says so, in the file too
                data[f.file]["description"] = f.description()
            fnd.add_expectations(out / f.file, out, data[f.file], r.docs, order)
            written.append(f)
        again = self.run.run([fnd.load(out / f.file, out) for f in written]) if written else None
        for f, r in zip(written, again.results if again else []):
            # A Go peer that fails makes the run's verdict `error` whatever the case expects.
            passed = r.verdict in (Verdict.PASS, Verdict.UNSUPPORTED) or f.kind == "peer-failure"
            f.verified = passed and _holds(f, Outcome.of(r.docs, r.classes))
        for f in todo:
            if not f.verified:
                (out / f.file).unlink(missing_ok=True)
                self.stats.unstable += 1
                self.say(f"unstable: {f.file} did not pass when run from its file; not kept")
                f.file = ""
        return [f for f in todo if f.verified]


def _holds(f: fnd.Finding, outcome: Outcome) -> bool:
    """Does a run of the finding's case still show it? (A leak shows in the peer's
    descriptors, not in the observations: its case is checked for passing only.)"""
    return f.kind == "peer-leak" or f.signature in outcome.signatures()


def remove_previous(out: Path) -> None:
    """The case files an earlier campaign wrote in `out` (named by its findings.json), removed:
    the folder then holds this campaign's findings only."""
    import json
    index = out / fnd.FINDINGS_FILE
    try:
        previous = json.loads(index.read_text())
    except (OSError, ValueError):
        return
    for f in previous.get("findings", []):
        name = f.get("file")
        if isinstance(name, str) and name and os.sep not in name and name.endswith(".yaml"):
            (out / name).unlink(missing_ok=True)
    index.unlink(missing_ok=True)

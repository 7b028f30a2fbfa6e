"""A load shape for the tests: the run ends on what the users did, not on a clock.

``locust -f <locustfile>,tests/locustfiles/until.py --users N --spawn-rate R --until-type TYPE
[--until-name NAME[|NAME...]] [--until-requests K] [--until-names D]`` runs N users until all of
them have started and they have made K requests of TYPE (any type if empty; named NAME, or any of
the names separated by ``|``, if given) in all, under D names at least; then Locust stops them,
as at the end of a ``--run-time`` (with ``--stop-timeout``, each finishes the task it is in).

Why not ``--run-time``: Locust schedules it on gevent's loop time, which the loop caches when it
last ran, and Locust's start-up blocks the loop between then and the scheduling. The run then ends
early by as long as the start-up took (a 3 s run lasted 1.5 s on a loaded machine), so what the
users got done in a given run time depends on the machine's speed. Locust imports this file in its
own process; the tests only name it.
"""

from __future__ import annotations

from collections import Counter

from locust import LoadTestShape, events


@events.init_command_line_parser.add_listener
def _options(parser) -> None:
    group = parser.add_argument_group("tests: end the run on what the users did")
    group.add_argument("--until-requests", type=int, default=1, help="requests to wait for")
    group.add_argument("--until-names", type=int, default=1, help="under this many names")
    group.add_argument("--until-type", default="REPORT", help="their request type ('': any)")
    group.add_argument(
        "--until-name", default="", help="their name, or names separated by | (default: any)"
    )


class UntilRequests(LoadTestShape):
    """``--users`` at ``--spawn-rate`` until the requests asked for are made, then the end."""

    use_common_options = True

    def made(self) -> Counter:
        """Name -> the requests of the type (and name) asked for, made so far."""
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        names = set(options.until_name.split("|")) if options.until_name else None
        return Counter(
            {
                entry.name: entry.num_requests
                for entry in self.runner.stats.entries.values()
                if entry.num_requests
                and (not options.until_type or entry.method == options.until_type)
                and (names is None or entry.name in names)
            }
        )

    def tick(self) -> tuple[int, float] | None:
        """Keep the users running until all have started and the requests are made."""
        assert self.runner is not None
        options = self.runner.environment.parsed_options
        made = self.made()
        if (
            self.runner.user_count >= options.num_users
            and made.total() >= options.until_requests
            and len(made) >= options.until_names
        ):
            return None
        return options.num_users, options.spawn_rate

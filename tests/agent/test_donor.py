"""Which pods a new or rebuilt pod copies: the choice over the peers' states (a table), how it
is handed to the clone (one file per value), and the donor init container's command."""
from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
from mysql_cluster_agent.dialect import Flavor
from mysql_cluster_agent.donor import Donors, NewDatabase, NoDonor, choose_donors, main, write_choice
from mysql_cluster_agent.gtid import parse_gtid
from mysql_cluster_agent.peers import PeerAnswer, peer_ordinals
from mysql_cluster_agent.state import ServerState

from .conftest import agent_config

SECOND = 1_000_000
NOW = 1_800_000_000 * SECOND
LAG = 10


def peer(ordinal: int, writable: bool = False, age: float | None = 0) -> ServerState:
    """A peer whose heartbeat is `age` seconds older than the newest (None: none yet)."""
    return ServerState(ordinal, not writable, None if age is None else NOW - int(age * SECOND), 0,
                       parse_gtid(Flavor.MYSQL, "3e11fa47-71ca-11e1-9e33-c80aa9429562:1-10"))


def choose(me: int, replicas: int, *peers: ServerState):
    return choose_donors(me, peer_ordinals(me, replicas), {p.ordinal: p for p in peers}, LAG)


@pytest.mark.parametrize(("me", "replicas", "peers", "donors"), [
    # Caught-up replicas first, the nearest lower ordinal first, then the primary.
    (3, 4, [peer(0, writable=True), peer(1), peer(2)], (2, 1, 0)),
    (1, 4, [peer(0, writable=True), peer(2), peer(3)], (2, 3, 0)),
    # A replica that lags more than the limit, or has no heartbeat yet, is no donor.
    (3, 4, [peer(0, writable=True), peer(1), peer(2, age=LAG + 1)], (1, 0)),
    (2, 3, [peer(0, writable=True), peer(1, age=None)], (0,)),
    # Exactly at the limit still serves.
    (2, 3, [peer(0, writable=True), peer(1, age=LAG)], (1, 0)),
    # The lag counts from the newest heartbeat any peer has, not from this pod's clock.
    (2, 3, [peer(0, writable=True, age=100), peer(1, age=105)], (1, 0)),
    # A primary that is down: the caught-up replicas serve alone.
    (2, 3, [peer(1)], (1,)),
    # A peer that did not answer is skipped.
    (3, 4, [peer(0, writable=True), peer(2)], (2, 0)),
])
def test_the_donors_are_caught_up_replicas_nearest_lower_first_then_the_primary(me, replicas, peers, donors):
    choice = choose(me, replicas, *peers)
    assert isinstance(choice, Donors) and choice.ordinals == donors


def test_pod_0_starts_a_new_database_when_no_other_pod_answers():
    assert isinstance(choose(0, 3), NewDatabase)


def test_another_pod_copies_the_one_before_it_when_no_pod_answers():
    choice = choose(2, 3)
    assert isinstance(choice, Donors) and choice.ordinals == (1,)
    assert "no other pod answers" in choice.why


def test_pod_0_copies_a_peer_that_answers():
    choice = choose(0, 3, peer(1, writable=True), peer(2))
    assert isinstance(choice, Donors) and choice.ordinals == (2, 1)


def test_peers_that_answer_but_lag_and_no_primary_give_no_donor():
    choice = choose(2, 3, peer(0, age=None), peer(1, age=None))
    assert isinstance(choice, NoDonor)
    assert "none is writable or a replica within 10s" in choice.why


def test_a_peer_in_the_state_map_without_a_state_counts_as_not_answering():
    assert isinstance(choose_donors(0, [1, 2], {1: None, 2: None}, LAG), NewDatabase)


def host(ordinal: int) -> str:
    return f"db-{ordinal}.db.ns.svc.cluster.local"


def test_the_choice_is_written_one_value_a_file_in_order_of_preference(tmp_path: Path):
    write_choice(tmp_path, Donors((2, 0), ""), host)
    assert {p.name: p.read_text() for p in tmp_path.iterdir()} == {
        "donors": "2\n", "donor-1": host(2) + "\n", "donor-2": host(0) + "\n"}


def test_a_new_choice_replaces_the_old_one_whole(tmp_path: Path):
    write_choice(tmp_path, NewDatabase(""), host)
    write_choice(tmp_path, Donors((0, 1), ""), host)
    write_choice(tmp_path, Donors((1,), ""), host)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["donor-1", "donors"]
    write_choice(tmp_path, NewDatabase(""), host)
    assert [p.name for p in tmp_path.iterdir()] == ["new-database"]


def test_a_host_that_is_not_a_dns_name_is_never_written(tmp_path: Path):
    with pytest.raises(ValueError, match="is not a DNS name"):
        write_choice(tmp_path, Donors((1,), ""), lambda _: "db-1; rm -rf /")
    assert not (tmp_path / "donors").exists()


class Step:
    """The donor init container's command with a given environment and peers' answers."""

    def __init__(self, tmp_path: Path, pod: str = "mysql-2", replicas: int = 3) -> None:
        self.config = agent_config(tmp_path, pod=pod, replicas=replicas)
        self.donor_dir = tmp_path / "donor"
        self.donor_dir.mkdir()
        self.data = tmp_path / "data"
        self.data.mkdir()
        self.env = {"DONOR_DIR": str(self.donor_dir), "DATA_VOLUME": str(self.data), "DATA_SUBDIR": "mysql",
                    "MAX_REPLICATION_LAG_SECONDS": str(LAG), "CLONE_ATTEMPTS": "3"}
        self.asked = 0
        self.slept: list[float] = []

    def run(self, *answers: list[PeerAnswer]) -> int:
        def ask(ordinals):
            self.asked += 1
            return answers[min(self.asked, len(answers)) - 1]
        return main(self.config, self.env, ask, self.slept.append)

    def written(self) -> dict[str, str]:
        return {p.name: p.read_text().strip() for p in self.donor_dir.iterdir()}


def answer(state: ServerState) -> PeerAnswer:
    return PeerAnswer(state.ordinal, state.to_wire())


def test_the_step_writes_the_donors_hosts(tmp_path: Path):
    step = Step(tmp_path)
    assert step.run([answer(peer(1)), answer(peer(0, writable=True))]) == 0
    assert step.written() == {"donors": "2", "donor-1": step.config.pod_host(1), "donor-2": step.config.pod_host(0)}


def test_the_step_needs_no_donor_for_a_pod_that_holds_a_database(tmp_path: Path):
    step = Step(tmp_path)
    (step.data / "mysql" / "mysql").mkdir(parents=True)
    assert step.run([]) == 0
    assert step.asked == 0 and step.written() == {}


def test_the_step_chooses_for_a_pod_being_rebuilt_although_it_holds_a_database(tmp_path: Path):
    step = Step(tmp_path)
    (step.data / "mysql" / "mysql").mkdir(parents=True)
    (step.data / "rebuild").write_text(f"{step.data}/diverged-x\n")
    assert step.run([answer(peer(0, writable=True)), answer(peer(1))]) == 0
    assert step.written()["donors"] == "2"


def test_a_peer_whose_state_is_refused_does_not_count(tmp_path: Path):
    step = Step(tmp_path)
    broken = PeerAnswer(1, {"read_only": "yes"})
    assert step.run([broken, answer(peer(0, writable=True))]) == 0
    assert step.written() == {"donors": "1", "donor-1": step.config.pod_host(0)}


def test_the_step_asks_again_while_no_peer_may_serve_then_fails(tmp_path: Path):
    step = Step(tmp_path)
    lagging = [answer(peer(0, age=None)), answer(peer(1, age=None))]
    assert step.run(lagging) == 1
    assert step.asked == 3 and step.slept == [2, 4] and step.written() == {}


def test_the_step_writes_once_a_peer_may_serve(tmp_path: Path):
    step = Step(tmp_path)
    lagging = [answer(peer(0, age=None)), answer(peer(1, age=None))]
    assert step.run(lagging, [answer(peer(0, writable=True)), answer(peer(1, age=None))]) == 0
    assert step.written() == {"donors": "1", "donor-1": step.config.pod_host(0)}


def test_pod_0_of_a_new_cluster_is_told_to_start_a_new_database(tmp_path: Path):
    step = Step(tmp_path, pod="mysql-0")
    assert step.run([PeerAnswer(1, None, "timed out"), PeerAnswer(2, None, "timed out")]) == 0
    assert step.written() == {"new-database": "1"}


def test_a_new_mysql_replica_is_marked_for_its_agent_to_clone_into_its_server(tmp_path: Path):
    step = Step(tmp_path)
    assert step.run([answer(peer(1)), answer(peer(0, writable=True))]) == 0
    assert (step.data / "clone").exists()


def test_a_mysql_pod_mid_clone_keeps_its_mark_and_chooses_again(tmp_path: Path):
    step = Step(tmp_path)
    (step.data / "mysql" / "mysql").mkdir(parents=True)  # the new database the agent clones into
    (step.data / "clone").touch()
    assert step.run([answer(peer(0, writable=True)), answer(peer(1))]) == 0
    assert (step.data / "clone").exists() and step.written()["donors"] == "2"


def test_pod_0_of_a_new_cluster_is_not_marked_to_clone(tmp_path: Path):
    step = Step(tmp_path, pod="mysql-0")
    assert step.run([PeerAnswer(1, None, "timed out"), PeerAnswer(2, None, "timed out")]) == 0
    assert not (step.data / "clone").exists()


def test_a_mariadb_replica_is_not_marked_to_clone_its_init_container_copies_it(tmp_path: Path):
    step = Step(tmp_path)
    step.config = replace(step.config, flavor="mariadb")
    mariadb = [PeerAnswer(0, {**peer(0, writable=True).to_wire(), "gtid_state": "0-100-10"})]
    assert step.run(mariadb) == 0
    assert step.written()["donors"] == "1" and not (step.data / "clone").exists()

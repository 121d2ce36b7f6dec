"""NBA live scoring end to end: a real broker, the sensor, micro-batch runs, mart parity, momentum alerts."""

import json
import shutil
from functools import partial

import dagster as dg
import duckdb
import pytest

from live.microbatch import process_batch
from live.sports import NBA
from models.pipeline import SPECS, fingerprint
from models.registry import Candidate, register
from orchestration import cli
from stream import NBA_TOPIC
from stream.broker import LocalBroker, ensure_topics
from stream.envelope import InvalidEvent
from stream.nba_events import NBA_ACTION
from stream.nba_replay import elapsed_seconds, load_games, replay_nba, timeline
from stream.offsets import cluster_id, high_watermarks, next_ranges, read_ranges
from tests import live_helpers
from tests.kafka_fixtures import free_port
from tests.pipeline import query

# MIA @ DET, 2024-10-24: DET 123-121 in overtime. By hand from the play-by-play: DET scores 30-21 (action
# 102), 32-21, 34-21 and 37-21 (action 128, Beasley's three): a 10-0 run since MIA's basket at 27-21
# (action 101), extended to 12-0 by two free throws (135). In overtime Adebayo's dunk at 2:56 (action 464)
# turns DET's 114-113 lead into MIA's 115-114.
GAME = "0022400002"
PARITY = "select * from {} where game_id = '{}'"


@pytest.fixture(scope="module")
def nba_live_warehouse(nba_build, tmp_path_factory):
    """The NBA test seasons with their marts (`nba_build`) and an nba_wp champion fitted on 2023-24 only, so
    the replayed 2024-25 game is out of sample."""
    root = tmp_path_factory.mktemp("nba_live")
    path = root / "playcast.duckdb"
    shutil.copy(nba_build.warehouse, path)
    spec = SPECS["nba_wp"]
    con = duckdb.connect(str(path))
    try:
        frame = spec.frame(con)
        rows = spec.training_rows(frame[frame["season"] == 2023])
        selection = {"metric": "log_loss", "by_season": {}}  # not evaluated: the first and only version
        candidate = Candidate(spec.name, spec.model_class.fit(rows), [2023], len(rows), fingerprint(rows),
                              {"selection": selection})  # fmt: skip
        register(con, candidate, root / "model_store")
    finally:
        con.close()
    return path


@pytest.fixture
def broker():
    with LocalBroker(f"127.0.0.1:{free_port()}") as running:
        yield running.bootstrap


@pytest.fixture
def warehouse(nba_live_warehouse, tmp_path):
    path = tmp_path / "playcast.duckdb"
    shutil.copy(nba_live_warehouse, path)
    return path


@pytest.fixture(scope="module")
def actions(data_mirror) -> list[dict]:
    return load_games([GAME], data_mirror)[GAME]


score_new_offsets = partial(live_helpers.score_new_offsets, NBA)
publish = partial(live_helpers.publish, NBA)


def differences(warehouse, game) -> list:
    """Rows of the live features not in the mart, and of the mart not in the live features."""
    live, mart = PARITY.format(NBA.features_table, game), PARITY.format(NBA.mart, game)
    return query(warehouse, f"({live} except {mart}) union all ({mart} except {live})")


# --- events and replay --------------------------------------------------------------------------------------


def test_every_action_of_the_game_round_trips_through_the_event_schema(actions):
    assert len(actions) > 400 and [a["actionId"] for a in actions] == list(range(1, len(actions) + 1))
    for action in actions:
        event = NBA_ACTION.decode(NBA_ACTION.encode(action, sent_at="2024-10-24T23:00:00Z"))
        assert event["action"] == action and list(event["action"]) == list(action)
        assert event["schema"] == "playcast.nba.action/1"
        assert event["event_id"] == f"{GAME}:{action['actionId']}" and event["event_time"] is None


def event_with(actions, path: str, value) -> bytes:
    event = json.loads(NBA_ACTION.encode(actions[2]))  # a made shot: every optional field set
    target, *parents, last = event, *path.split(".")
    for key in parents:
        target = target[key]
    target[last] = value
    return json.dumps(event).encode()


@pytest.mark.parametrize(
    ("path", "value", "reason"),
    [
        ("schema", "playcast.nba.action/2", "unsupported schema version"),
        ("schema", "playcast.nfl.play/1", "unknown schema 'playcast.nfl.play/1'"),
        ("action.gameId", None, "missing required field 'action.gameId'"),
        ("action.actionId", 3.0, "wrong type for field 'action.actionId' (expected integer, got number"),
        ("action.period", True, "wrong type for field 'action.period' (expected integer, got boolean"),
        ("action.scoreHome", "2", "wrong type for field 'action.scoreHome' (expected number, got string"),
        ("action.clock", "11:41", "wrong format for field 'action.clock' (expected 'PT11M36.00S'"),
        ("event_id", f"{GAME}:7", "does not match action gameId:actionId '0022400002:3'"),
    ],
)
def test_malformed_actions_are_rejected_with_the_reason(actions, path, value, reason):
    with pytest.raises(InvalidEvent) as raised:
        NBA_ACTION.decode(event_with(actions, path, value))
    assert reason in str(raised.value)


def test_replay_sends_the_game_in_action_order_paced_by_game_clock(kafka_broker, data_mirror, actions):
    stats = replay_nba(kafka_broker, [GAME], speed="max", topic=NBA_TOPIC, mirror=data_mirror)
    assert (stats.events, stats.games) == (len(actions), 1)
    ranges = {p: (0, end) for p, end in high_watermarks(kafka_broker, NBA_TOPIC, {}).items() if end}
    records = [r for r in read_ranges(kafka_broker, NBA_TOPIC, ranges) if r.key == GAME.encode()]
    assert [NBA_ACTION.decode(r.value)["action"]["actionId"] for r in records] == list(
        range(1, len(actions) + 1)
    )
    assert len({r.partition for r in records}) == 1
    times = [t for t, _, _ in timeline(actions)]
    assert times == sorted(times) and times[-1] == 4 * 720 + 300  # four periods and one overtime
    assert elapsed_seconds(5, "PT02M56.00S") == 2880 + 124


def test_cli_replays_nba_games_and_explains_bad_arguments(kafka_broker, data_mirror, monkeypatch, capsys):
    monkeypatch.setenv("PLAYCAST_DATA_MIRROR", str(data_mirror))
    topic = f"test.nba.{free_port()}"
    assert ensure_topics(kafka_broker, {topic: 2}) == [topic]
    argv = ["replay", "nba", "--game", GAME, "--topic", topic, "--bootstrap", kafka_broker]
    assert cli.main(argv) == 0
    assert f"published 525 events from 1 game to {topic}" in capsys.readouterr().out
    for argv, message in [
        (["replay", "nba", "--season", "2024"], "expected an NBA season like 2023-24"),
        (["replay", "nba", "--game", "22400002"], "is not an NBA game id like 0022300001"),
        (["replay", "nba", "--game", "0021900001"], "no play-by-play file"),
        (["replay", "nfl", "--season", "2024-25"], "expected a year like 2023"),
    ]:
        assert cli.main([*argv, "--bootstrap", kafka_broker]) != 0
        assert message in capsys.readouterr().err


# --- micro-batches ------------------------------------------------------------------------------------------


def test_a_replayed_game_is_scored_with_the_marts_features_and_its_momentum_alerts(
    broker, warehouse, data_mirror
):
    replay_nba(broker, [GAME], speed="max", mirror=data_mirror)
    instance = dg.DagsterInstance.ephemeral()
    tick, runs = score_new_offsets(broker, warehouse, instance)
    [request] = tick.run_requests
    assert request.run_key.startswith(cluster_id(broker) + "/playcast.nba.actions:")
    assert [run.success for run in runs] == [True]
    assert differences(warehouse, GAME) == []  # parity: every column of every action equals the mart's

    [(predicted, distinct, versions, mart_rows)] = query(
        warehouse,
        """select count(*), count(distinct action_id), list(distinct model_version),
                  (select count(*) from marts.nba_wp_features where game_id = $1)
           from live.nba_win_probability where game_id = $1""",
        [GAME],
    )
    assert predicted == distinct == mart_rows > 400 and versions == ["nba_wp@1"]

    alerts = query(
        warehouse,
        "select kind, action_id, team, detail, period from live.alerts where game_id = ? order by action_id",
        [GAME],
    )
    assert ("scoring_run", 128, "DET", "DET 10-0 run", 2) in alerts
    assert ("lead_change", 464, "MIA", "MIA leads 115-114", 5) in alerts
    assert not any(action_id == 135 for _, action_id, *_ in alerts)  # the same run, extended: no new alert
    # one alert per run of 8+ points, as marts.nba_momentum lists them
    [(runs_in_mart,)] = query(
        warehouse,
        "select count(*) from marts.nba_momentum where game_id = ? and kind = 'scoring_run' and points >= 8",
        [GAME],
    )
    assert sum(kind == "scoring_run" for kind, *_ in alerts) == runs_in_mart > 1
    assert all(period >= 4 for kind, _, _, _, period in alerts if kind == "lead_change")

    observations = [
        e.event_specific_data.asset_observation
        for e in runs[0].all_events
        if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION
    ]
    assert sorted(o.description for o in observations) == sorted(detail for _, _, _, detail, _ in alerts)
    assert {o.asset_key.to_user_string() for o in observations} == {"live/nba_win_probability"}

    again, reruns = score_new_offsets(broker, warehouse, instance, cursor=tick.cursor)
    assert again.run_requests == [] and reruns == [] and "no new events" in again.skip_message


def test_malformed_unknown_and_duplicate_actions_and_a_late_one(broker, warehouse, actions):
    actions = list(actions)
    late = actions.pop(300)  # a made three of the third period arrives after the end of the game
    unknown = {**actions[0], "gameId": "0022499999"}
    publish(broker, actions[:200] + actions[150:200])  # fifty actions twice
    instance = dg.DagsterInstance.ephemeral()
    tick, runs = score_new_offsets(broker, warehouse, instance)
    assert all(r.success for r in runs)
    # the first 200 actions' features equal the mart's: nothing in them looks ahead
    live = PARITY.format(NBA.features_table, GAME)
    assert query(warehouse, f"{live} except {PARITY.format(NBA.mart, GAME)}") == []
    assert query(warehouse, f"select count(*) from ({live})") == [(200,)]

    publish(broker, actions[200:])
    tick, runs = score_new_offsets(broker, warehouse, instance, cursor=tick.cursor)
    publish(broker, [late], extra=[(b"x", b"{not json"), (b"0022499999", NBA_ACTION.encode(unknown))])
    tick, runs = score_new_offsets(broker, warehouse, instance, cursor=tick.cursor)
    assert [r.success for r in runs] == [True]
    revised = [
        e.materialization.metadata["revised_predictions"].value
        for e in runs[0].get_asset_materialization_events()
        if e.asset_key.path[-1] == "nba_win_probability"
    ]
    assert revised[0] > 0  # the late action changed the state of the actions after it
    dead = query(warehouse, "select reason from live.dead_letters order by reason")
    assert [r[0].split(" (")[0].split(":")[0] for r in dead] == ["not JSON", "unknown game_id '0022499999'"]
    [(rows, distinct)] = query(
        warehouse,
        "select count(*), count(distinct action_id) from live.nba_win_probability where game_id = ?",
        [GAME],
    )
    assert rows == distinct == len(actions) + 1
    assert differences(warehouse, GAME) == []


def test_the_same_offsets_again_add_nothing(broker, warehouse, data_mirror):
    replay_nba(broker, [GAME], speed="max", mirror=data_mirror)
    records = read_ranges(broker, NBA_TOPIC, next_ranges(broker, NBA_TOPIC, {}, 10**6))
    snapshot = """select (select count(*) from live.events), (select count(*) from live.alerts),
                         (select sum(hash(w)) from live.nba_win_probability w)"""
    con = duckdb.connect(str(warehouse))
    try:
        predictor = NBA.predictor(con)
        first = process_batch(con, [records], "run-1", predictor, NBA.feature_sql(), cluster_id(broker), NBA)
        before = con.execute(snapshot).fetchall()
        second = process_batch(con, [records], "run-2", predictor, NBA.feature_sql(), cluster_id(broker), NBA)
        after = con.execute(snapshot).fetchall()
    finally:
        con.close()
    assert first.new_events == len(records) and first.new_predictions > 400 and len(first.alerts) > 2
    assert (second.new_events, second.new_predictions, second.revised_predictions, second.alerts) == (
        0,
        0,
        0,
        [],
    )
    assert before == after


def test_the_timeline_marks_runs_and_late_lead_changes(broker, warehouse, data_mirror, monkeypatch, capsys):
    replay_nba(broker, [GAME], speed="max", mirror=data_mirror)
    score_new_offsets(broker, warehouse, dg.DagsterInstance.ephemeral())
    monkeypatch.setenv("PLAYCAST_WAREHOUSE", str(warehouse))
    assert cli.main(["live", "nba", "--game", GAME]) == 0
    lines = capsys.readouterr().out.splitlines()
    [run] = [line for line in lines if "DET 10-0 run" in line]
    assert "DET 37-21 MIA" in run and "Beasley 26' 3PT" in run
    [lead] = [line for line in lines if "MIA leads 115-114" in line]
    assert lead.split()[:2] == ["5", "2:56"]
    assert cli.main(["live", "nba", "--game", GAME, "--last", "5"]) == 0
    assert "DET 123-121 MIA" in capsys.readouterr().out
    assert cli.main(["live", "nba", "--game", "0029999999"]) == 1  # never replayed
    assert "no live predictions for NBA game '0029999999'" in capsys.readouterr().err
    assert cli.main(["live", "nba", "--game", GAME, "--last", "0"]) == 2


def test_a_run_shows_at_most_the_configured_number_of_alerts_as_observations(
    broker, warehouse, data_mirror, monkeypatch
):
    monkeypatch.setenv("PLAYCAST_ALERT_OBSERVATIONS", "2")
    replay_nba(broker, [GAME], speed="max", mirror=data_mirror)
    [run] = score_new_offsets(broker, warehouse, dg.DagsterInstance.ephemeral())[1]
    alerts = query(
        warehouse, "select detail from live.alerts where game_id = ? order by action_id, kind", [GAME]
    )
    observed = [e.event_specific_data.asset_observation.description for e in run.all_events
                if e.event_type == dg.DagsterEventType.ASSET_OBSERVATION]  # fmt: skip
    [predictions] = [e.materialization for e in run.get_asset_materialization_events()
                     if e.asset_key.to_user_string() == "live/nba_win_probability"]  # fmt: skip
    assert len(alerts) > 2 and observed == [detail for (detail,) in alerts[:2]]
    assert predictions.metadata["alerts"].value == len(alerts)


def test_alert_thresholds_come_from_the_environment(broker, warehouse, data_mirror, monkeypatch):
    monkeypatch.setenv("PLAYCAST_ALERT_RUN_POINTS", "11")
    monkeypatch.setenv("PLAYCAST_ALERT_LATE_SECONDS", "60")
    replay_nba(broker, [GAME], speed="max", mirror=data_mirror)
    records = read_ranges(broker, NBA_TOPIC, next_ranges(broker, NBA_TOPIC, {}, 10**6))
    con = duckdb.connect(str(warehouse))
    try:
        result = process_batch(
            con, [records], "run-1", NBA.predictor(con), NBA.feature_sql(), cluster_id(broker), NBA
        )
        [(runs_of_11,)] = con.execute(
            "select count(*) from marts.nba_momentum "
            "where game_id = ? and kind = 'scoring_run' and points >= 11",
            [GAME],
        ).fetchall()
    finally:
        con.close()
    runs = [a for a in result.alerts if a["kind"] == "scoring_run"]
    assert len(runs) == runs_of_11 == 3 and all(a["detail"].endswith("-0 run") for a in runs)
    assert ("DET", 134, "DET 11-0 run") in [(a["team"], a["action_id"], a["detail"]) for a in runs]
    # DET's alley-oop tied it 121-121 with 1.1 s left, Beasley's technical free throw put DET ahead
    assert [(a["action_id"], a["detail"]) for a in result.alerts if a["kind"] == "lead_change"] == [
        (517, "DET leads 122-121")
    ]

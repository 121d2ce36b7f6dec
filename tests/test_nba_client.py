"""The stats.nba.com path: parsing real responses like the mirror, and the polite client against a real local
HTTP server that answers slowly, with 429, with broken bodies and with errors."""

import datetime as dt
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

import dagster as dg
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pytest

from assets.ingest_nba import nba_raw_assets
from ingest import nba
from ingest.errors import SourceError
from ingest.nba_stats import (
    GAMES_SCHEMA,
    PBP_SCHEMA,
    ResponseCache,
    StatsClient,
    parse_game_log,
    parse_pbp,
)
from orchestration.resources import SourceData, Warehouse
from tests.pipeline import query

SEASON = "2024-25"


@pytest.fixture(scope="module")
def mirror_games(data_mirror) -> dict[str, pa.Table]:
    """The mirror's rows of the first four games of 2024-25, by game id."""
    pbp = pq.read_table(data_mirror / "nba" / "playbyplayv3_2024_25.parquet").cast(PBP_SCHEMA)
    game_ids = sorted(pc.unique(pbp["gameId"]).to_pylist())[:4]
    return {g: pbp.filter(pc.equal(pbp["gameId"], g)) for g in game_ids}


def v3_response(rows: pa.Table) -> str:
    """A playbyplayv3 answer as stats.nba.com sends it: scores as text, "" where the mirror has NULL."""
    actions = []
    for row in rows.to_pylist():
        del row["gameId"]
        for key in ("scoreHome", "scoreAway"):
            row[key] = None if row[key] is None else str(int(row[key]))
        actions.append({k: "" if v is None else v for k, v in row.items()})
    game = {"gameId": rows["gameId"][0].as_py(), "videoAvailable": 1, "actions": actions}
    return json.dumps({"meta": {"version": 1, "code": 200, "request": "playbyplayv3"}, "game": game})


def game_log_response(rows: pa.Table) -> str:
    """A leaguegamelog answer (resultSets) holding `rows`, SEASON_ID as text like stats.nba.com sends it."""
    records = [
        [str(v) if k == "SEASON_ID" else v.isoformat() if isinstance(v, dt.date) else v for k, v in r.items()]
        for r in rows.select(GAMES_SCHEMA.names).to_pylist()
    ]
    result = {"name": "LeagueGameLog", "headers": GAMES_SCHEMA.names, "rowSet": records}
    return json.dumps({"resource": "leaguegamelog", "parameters": {}, "resultSets": [result]})


def test_a_v3_response_parses_to_the_mirror_rows(mirror_games):
    for game_id, rows in mirror_games.items():
        parsed = parse_pbp(v3_response(rows), f"game {game_id}")
        assert parsed.schema == PBP_SCHEMA
        assert parsed.equals(rows), game_id
        assert parsed["location"].null_count > 0 and parsed["scoreHome"].null_count > 0


def test_the_real_game_log_fixture_parses_like_the_mirror_csv(data_mirror):
    fixture = data_mirror / "nba" / "fixtures" / "stats_leaguegamelog_nba_2018_19_Regular_Season.json"
    rows = parse_game_log(fixture.read_text(), str(fixture))
    assert rows.schema == GAMES_SCHEMA and rows.num_rows == 2460
    assert set(pc.utf8_slice_codeunits(rows["GAME_ID"], 0, 5).to_pylist()) == {"00218"}
    assert rows["SEASON_ID"][0].as_py() == 22018 and rows["GAME_DATE"][0].as_py() == dt.date(2019, 4, 10)
    mirror = nba.load_games(SEASON, data_mirror).rows.drop_columns(["season"])
    assert parse_game_log(game_log_response(mirror), "log").equals(mirror)


def test_bad_responses_are_named():
    with pytest.raises(SourceError, match="game 1: not a JSON response"):
        parse_pbp('{"game": {"gameId": "00', "game 1")
    with pytest.raises(SourceError, match=r"game 2: not a playbyplayv3 response \(no game.gameId"):
        parse_pbp('{"resultSets": []}', "game 2")
    short_log = {"resultSets": [{"name": "LeagueGameLog", "headers": ["GAME_ID", "PTS"], "rowSet": []}]}
    with pytest.raises(SourceError, match=r"log 3 lacks required column.*: SEASON_ID, TEAM_ID"):
        parse_game_log(json.dumps(short_log), "log 3")
    wrong_type = json.dumps({"game": {"gameId": "0022400001", "actions": [{"actionNumber": "one"}]}})
    with pytest.raises(SourceError, match="game 4: a value does not fit column actionNumber"):
        parse_pbp(wrong_type, "game 4")


@dataclass
class Reply:
    body: str = "{}"
    status: int = 200
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    cut: bool = False  # announce the whole body, send a part, close the connection


@dataclass
class Seen:
    at: float
    endpoint: str
    params: dict[str, str]
    headers: dict[str, str]


class StatsServer:
    """A real HTTP server on a free local port; `answer(n, endpoint, params)` scripts each reply."""

    def __init__(self, answer: Callable[[int, str, dict[str, str]], Reply]) -> None:
        self.answer, self.seen, self._lock = answer, [], threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                params = dict(parse_qsl(parts.query, keep_blank_values=True))
                with server._lock:
                    server.seen.append(
                        Seen(time.monotonic(), parts.path.rsplit("/", 1)[-1], params, dict(self.headers))
                    )
                    n = len(server.seen)
                reply = server.answer(n, parts.path.rsplit("/", 1)[-1], params)
                time.sleep(reply.delay)
                body = reply.body.encode()
                try:
                    self.send_response(reply.status)
                    for key, value in {"Content-Type": "application/json", **reply.headers}.items():
                        self.send_header(key, value)
                    self.send_header("Content-Length", str(len(body)))
                    self.end_headers()
                    self.wfile.write(body[: len(body) // 3] if reply.cut else body)
                    self.close_connection = reply.cut
                except OSError:  # the client gave up waiting (a timeout test)
                    pass

            def log_message(self, *_: object) -> None:
                pass

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/stats"
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)

    def __enter__(self) -> "StatsServer":
        self.thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def gaps(self) -> list[float]:
        return [b.at - a.at for a, b in zip(self.seen, self.seen[1:], strict=False)]


def client(server: StatsServer, **settings) -> StatsClient:
    return StatsClient(server.url, **({"min_interval": 0.01, "backoff": 0.01, "timeout": 2.0} | settings))


def first_game(mirror_games) -> tuple[str, str]:
    game_id, rows = next(iter(mirror_games.items()))
    return game_id, v3_response(rows)


@pytest.mark.parametrize(
    "bad",
    [
        Reply(delay=1.5),  # slower than the client's timeout
        Reply(status=429, headers={"Retry-After": "1"}),
        Reply(body='{"game": {"gameId": "00224'),  # a broken JSON body
        Reply(cut=True),  # the connection closes in the middle of the body
        Reply(status=502, body="<html>Bad gateway</html>"),
    ],
    ids=["slow", "429", "broken-json", "cut-body", "502"],
)
def test_the_client_retries_until_a_good_answer(bad, mirror_games):
    game_id, good = first_game(mirror_games)
    bad.body = good if bad.cut or bad.delay else bad.body
    with (
        StatsServer(lambda n, *_: bad if n == 1 else Reply(good)) as server,
        client(server, timeout=0.5) as c,
    ):
        text = c.play_by_play(game_id)
    assert parse_pbp(text, game_id).equals(mirror_games[game_id])
    assert len(server.seen) == 2
    assert server.seen[0].params == {"GameID": game_id, "StartPeriod": "0", "EndPeriod": "0"}
    if bad.status == 429:  # Retry-After: 1 waited, not the 0.01 s backoff
        assert server.gaps()[0] >= 0.95


def test_a_failure_that_never_recovers_names_the_game_after_n_attempts(mirror_games):
    with (
        StatsServer(lambda *_: Reply(status=503, body="busy")) as server,
        client(server, attempts=4, backoff=0.1) as c,
        pytest.raises(SourceError) as raised,
    ):
        c.play_by_play("0022400001")
    message = str(raised.value)
    assert "game 0022400001" in message and "playbyplayv3?" in message and "GameID=0022400001" in message
    assert "failed after 4 attempts" in message and "HTTP 503" in message
    assert len(server.seen) == 4
    # exponential backoff: 0.1, 0.2, 0.4 s between the attempts
    assert [round(g, 1) >= w for g, w in zip(server.gaps(), [0.1, 0.2, 0.4], strict=True)] == [True] * 3


def test_a_client_error_is_not_retried():
    with (
        StatsServer(lambda *_: Reply(status=400, body="bad GameID")) as server,
        client(server) as c,
        pytest.raises(SourceError, match=r"game 1: .* answered HTTP 400: bad GameID"),
    ):
        c.play_by_play("1")
    assert len(server.seen) == 1


def test_calls_are_spaced_by_the_minimum_interval_with_browser_headers(mirror_games):
    game_id, good = first_game(mirror_games)
    with StatsServer(lambda *_: Reply(good)) as server, client(server, min_interval=0.4) as c:
        for _ in range(4):
            c.play_by_play(game_id)
    assert len(server.gaps()) == 3 and min(server.gaps()) >= 0.35  # requests 1 ms apart without the interval
    headers = {k.lower(): v for k, v in server.seen[0].headers.items()}
    assert "Mozilla" in headers["user-agent"] and headers["referer"].startswith("https://www.nba.com")
    assert headers["origin"] == "https://www.nba.com" and headers["x-nba-stats-origin"] == "stats"
    assert headers["x-nba-stats-token"] == "true"
    with pytest.raises(ValueError, match=r"stats\.nba\.com needs at least 0\.6 s"):
        StatsClient("https://stats.nba.com/stats", min_interval=0.1)


def test_an_interrupted_backfill_resumes_where_it_stopped(tmp_path, mirror_games):
    game_ids = list(mirror_games)
    responses = {g: v3_response(rows) for g, rows in mirror_games.items()}
    cache = ResponseCache(tmp_path / "cache")

    def failing_from_third(_n: int, _endpoint: str, params: dict) -> Reply:
        gone = params["GameID"] == game_ids[2]
        return Reply(status=503) if gone else Reply(responses[params["GameID"]])

    with StatsServer(failing_from_third) as server, pytest.raises(SourceError, match=game_ids[2]):
        nba.load_pbp(SEASON, None, game_ids, client=client(server, attempts=2), cache=cache)
    folder = cache.path(SEASON, game_ids[0]).parent
    assert sorted(p.name for p in folder.iterdir()) == [f"{g}.json" for g in game_ids[:2]]  # no partial files

    with StatsServer(lambda _n, _e, params: Reply(responses[params["GameID"]])) as server:
        loaded = nba.load_pbp(SEASON, None, game_ids, client=client(server), cache=cache)
    assert [s.params["GameID"] for s in server.seen] == game_ids[2:]
    assert loaded.rows.drop_columns(["season"]).equals(pa.concat_tables(mirror_games.values()))
    assert set(loaded.rows["season"].to_pylist()) == {SEASON}


def test_a_season_materializes_from_the_network_through_dagster(
    tmp_path, monkeypatch, data_mirror, mirror_games
):
    log = nba.load_games(SEASON, data_mirror).rows
    log = log.filter(pc.is_in(log["GAME_ID"], pa.array(list(mirror_games))))
    responses = {g: v3_response(rows) for g, rows in mirror_games.items()}

    def stats_nba(_n: int, endpoint: str, params: dict) -> Reply:
        if endpoint == "leaguegamelog":
            assert params["Season"] == SEASON and params["PlayerOrTeam"] == "T"
            return Reply(game_log_response(log))
        return Reply(responses[params["GameID"]])

    with StatsServer(stats_nba) as server:
        monkeypatch.setenv("PLAYCAST_NBA_STATS_URL", server.url)
        monkeypatch.setenv("PLAYCAST_NBA_CACHE", str(tmp_path / "cache"))
        warehouse = tmp_path / "playcast.duckdb"
        resources = {"warehouse": Warehouse(path=str(warehouse)), "source_data": SourceData(mirror=None)}
        run = dg.materialize(nba_raw_assets, partition_key=SEASON, resources=resources)
    assert all(e.passed for e in run.get_asset_check_evaluations())
    assert [s.endpoint for s in server.seen] == ["leaguegamelog"] + ["playbyplayv3"] * len(mirror_games)
    assert min(server.gaps()) >= 0.55  # the production interval (0.6 s) by default
    expected = sum(r.num_rows for r in mirror_games.values())
    assert query(warehouse, "select count(*), count(distinct gameId) from raw.nba_pbp") == [(expected, 4)]
    assert sorted(p.name for p in Path(tmp_path / "cache" / "playbyplayv3" / SEASON).iterdir()) == [
        f"{g}.json" for g in sorted(mirror_games)
    ]

"""stats.nba.com: a polite client, a resumable per-game response cache, and the PlayByPlayV3 / LeagueGameLog
parsers that give the same rows as the mirror's files.

The mirror's season files were written by nba_api (`PlayByPlayV3(game_id).get_data_frames()[0].to_csv()`) and
read back by pandas. A response is parsed here with nba_api's own response parser, then each value is typed as
that CSV round trip types it: empty strings (and pandas' other NA spellings) become NULL, `gameId` stays text.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pyarrow as pa

from ingest.errors import SourceError, require_columns

log = logging.getLogger(__name__)

PBP_SCHEMA = pa.schema(
    [
        ("gameId", pa.string()),
        ("actionNumber", pa.int64()),
        ("clock", pa.string()),
        ("period", pa.int64()),
        ("teamId", pa.int64()),
        ("teamTricode", pa.string()),
        ("personId", pa.int64()),
        ("playerName", pa.string()),
        ("playerNameI", pa.string()),
        ("xLegacy", pa.int64()),
        ("yLegacy", pa.int64()),
        ("shotDistance", pa.int64()),
        ("shotResult", pa.string()),
        ("isFieldGoal", pa.int64()),
        ("scoreHome", pa.float64()),
        ("scoreAway", pa.float64()),
        ("pointsTotal", pa.int64()),
        ("location", pa.string()),
        ("description", pa.string()),
        ("actionType", pa.string()),
        ("subType", pa.string()),
        ("videoAvailable", pa.int64()),
        ("shotValue", pa.int64()),
        ("actionId", pa.int64()),
    ]
)
GAME_LOG_COLUMNS = (
    "SEASON_ID", "TEAM_ID", "TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID", "GAME_DATE", "MATCHUP", "WL", "MIN",
    "FGM", "FGA", "FG_PCT", "FG3M", "FG3A", "FG3_PCT", "FTM", "FTA", "FT_PCT", "OREB", "DREB", "REB", "AST",
    "STL", "BLK", "TOV", "PF", "PTS", "PLUS_MINUS", "VIDEO_AVAILABLE",
)  # fmt: skip
_GAME_LOG_TEXT = {"TEAM_ABBREVIATION", "TEAM_NAME", "GAME_ID", "MATCHUP", "WL"}
GAMES_SCHEMA = pa.schema(  # the types DuckDB gives the mirror's csv; GAME_ID keeps its leading zeros
    (
        name,
        pa.string()
        if name in _GAME_LOG_TEXT
        else pa.date32()
        if name == "GAME_DATE"
        else pa.float64()
        if name.endswith("_PCT")
        else pa.int64(),
    )
    for name in GAME_LOG_COLUMNS
)
# What pandas.read_csv reads as NaN by default: the mirror's pbp went through it, so the parser does the same.
PANDAS_NA = frozenset({
    "", "#N/A", "#N/A N/A", "#NA", "-1.#IND", "-1.#QNAN", "-NaN", "-nan", "1.#IND", "1.#QNAN", "<NA>", "N/A",
    "NA", "NULL", "NaN", "None", "n/a", "nan", "null",
})  # fmt: skip

STATS_URL_ENV = "PLAYCAST_NBA_STATS_URL"
DEFAULT_STATS_URL = "https://stats.nba.com/stats"
CACHE_ENV = "PLAYCAST_NBA_CACHE"
MIN_INTERVAL = 0.6  # seconds between calls to stats.nba.com: the usual polite pace of nba_api backfills


def _value(value: object, dtype: pa.DataType, nulls: frozenset[str]) -> object:
    """One response value typed as its column (`nulls`: text read as NULL)."""
    if value is None or (isinstance(value, str) and value in nulls):
        return None
    if pa.types.is_string(dtype):
        return str(value)
    if pa.types.is_date(dtype):
        return dt.date.fromisoformat(str(value)[:10])
    number = float(value)
    return int(number) if pa.types.is_integer(dtype) else number


def table_from_records(
    headers: list[str], records: Iterable[list], schema: pa.Schema, source: str, nulls: frozenset[str]
) -> pa.Table:
    """A result set (headers + rows) as a table of `schema`'s columns, naming `source` when it doesn't fit."""
    require_columns(list(headers), tuple(schema.names), source)
    positions = [list(headers).index(name) for name in schema.names]
    columns: list[list] = [[] for _ in positions]
    try:
        for record in records:
            for column, position, field in zip(columns, positions, schema, strict=True):
                column.append(_value(record[position], field.type, nulls))
    except (ValueError, TypeError, IndexError) as error:
        raise SourceError(f"{source}: a value does not fit column {field.name} ({error})") from error
    return pa.Table.from_arrays(
        [pa.array(c, f.type) for c, f in zip(columns, schema, strict=True)], schema=schema
    )


def _data_sets(text: str, endpoint: str | None, source: str) -> tuple[dict, dict]:
    """The decoded response and nba_api's data sets of it (its own parser of stats.nba.com responses)."""
    from nba_api.stats.library.http import NBAStatsResponse

    try:
        document = json.loads(text)
    except ValueError as error:
        raise SourceError(f"{source}: not a JSON response ({error})") from error
    if not isinstance(document, dict):
        raise SourceError(f"{source}: not a JSON object but {type(document).__name__}")
    if endpoint == "playbyplayv3":  # nba_api's V3 parser reads a missing game as no actions: refuse that
        game = document.get("game")
        if not isinstance(game, dict) or not game.get("gameId") or not isinstance(game.get("actions"), list):
            raise SourceError(f"{source}: not a playbyplayv3 response (no game.gameId / game.actions)")
    response = NBAStatsResponse(response=text, status_code=200, url=source)
    try:
        return document, response.get_data_sets(endpoint)
    except (KeyError, TypeError, AttributeError) as error:
        raise SourceError(f"{source}: not a {endpoint or 'resultSets'} response (missing {error})") from error


def parse_pbp(text: str, source: str) -> pa.Table:
    """A `playbyplayv3` response (`{"game": {"gameId", "actions": [...]}}`) as rows of PBP_SCHEMA."""
    data_set = _data_sets(text, "playbyplayv3", source)[1]["PlayByPlay"]
    return table_from_records(data_set["headers"], data_set["data"], PBP_SCHEMA, source, PANDAS_NA)


def parse_game_log(text: str, source: str) -> pa.Table:
    """A `leaguegamelog` response (resultSets `LeagueGameLog`) as the 29 columns of the game log CSV."""
    data_sets = _data_sets(text, None, source)[1]
    if "LeagueGameLog" not in data_sets:
        raise SourceError(f"{source}: no LeagueGameLog result set (has {sorted(data_sets)})")
    data_set = data_sets["LeagueGameLog"]
    return table_from_records(data_set["headers"], data_set["data"], GAMES_SCHEMA, source, frozenset([""]))


def stats_url() -> str:
    """`PLAYCAST_NBA_STATS_URL`, default https://stats.nba.com/stats."""
    return (os.environ.get(STATS_URL_ENV) or DEFAULT_STATS_URL).rstrip("/")


def browser_headers() -> dict[str, str]:
    """nba_api's stats.nba.com headers plus the Origin and x-nba-stats-* headers the site sends.

    Host is left to requests, which sets it from the URL (stats.nba.com in production).
    """
    from nba_api.stats.library.http import NBAStatsHTTP

    headers = {k: v for k, v in NBAStatsHTTP.headers.items() if k.lower() != "host"}
    return headers | {
        "Origin": "https://www.nba.com",
        "x-nba-stats-origin": "stats",
        "x-nba-stats-token": "true",
    }


class StatsClient:
    """A polite stats.nba.com client: at least `min_interval` s between calls of the process (never under
    0.6 s against stats.nba.com itself), and retries with exponential backoff on timeouts, connection
    errors, 429 (honouring Retry-After), 5xx and broken or non-JSON bodies.
    """

    _turn = threading.Lock()  # the interval holds across every client of the process (game log, then games)
    _last_call = float("-inf")

    def __init__(
        self,
        base_url: str | None = None,
        *,
        min_interval: float = MIN_INTERVAL,
        timeout: float = 30.0,
        attempts: int = 5,
        backoff: float = 2.0,
        max_wait: float = 300.0,
    ) -> None:
        import requests

        self.base_url = (base_url or stats_url()).rstrip("/")
        if min_interval < MIN_INTERVAL and urlsplit(self.base_url).hostname == "stats.nba.com":
            raise ValueError(f"min_interval {min_interval} s: stats.nba.com needs at least {MIN_INTERVAL} s")
        self.min_interval, self.timeout, self.attempts = min_interval, timeout, attempts
        self.backoff, self.max_wait = backoff, max_wait
        self._session = requests.Session()
        self._session.headers.update(browser_headers())

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> StatsClient:
        return self

    def __exit__(self, *_: object) -> None:
        self.close()

    def _wait_turn(self) -> None:
        with StatsClient._turn:
            time.sleep(max(0.0, StatsClient._last_call + self.min_interval - time.monotonic()))
            StatsClient._last_call = time.monotonic()

    def get_text(self, endpoint: str, params: dict[str, str], what: str) -> str:
        """The JSON text of one call; `what` (e.g. 'game 0022400061') names it in errors."""
        import requests

        retryable = (requests.Timeout, requests.ConnectionError, requests.exceptions.ChunkedEncodingError)
        url = f"{self.base_url}/{endpoint}"
        params = dict(sorted(params.items()))  # nba_api sorts parameters: stats.nba.com is picky about it
        problem = ""
        for attempt in range(1, self.attempts + 1):
            self._wait_turn()
            wait = min(self.backoff * 2 ** (attempt - 1), self.max_wait)
            try:
                response = self._session.get(url, params=params, timeout=self.timeout)
                text = response.text
            except retryable as error:
                problem = f"{type(error).__name__}: {error}"
            else:
                if response.status_code == 429 or response.status_code >= 500:
                    problem = f"HTTP {response.status_code}"
                    retry_after = response.headers.get("Retry-After", "")
                    if retry_after.strip().isdigit():
                        wait = min(float(retry_after), self.max_wait)
                elif response.status_code >= 400:
                    raise SourceError(
                        f"{what}: {response.url} answered HTTP {response.status_code}: {text[:200]}"
                    )
                else:
                    try:
                        json.loads(text)
                        return text
                    except ValueError as error:
                        problem = f"broken JSON body ({error})"
            if attempt < self.attempts:
                log.warning(
                    "%s: %s (attempt %d/%d), retrying in %.1f s", what, problem, attempt, self.attempts, wait
                )
                time.sleep(wait)
        raise SourceError(
            f"{what}: {url}?{'&'.join(f'{k}={v}' for k, v in params.items())} failed after "
            f"{self.attempts} attempts; last: {problem}"
        )

    def play_by_play(self, game_id: str) -> str:
        """The `playbyplayv3` response of one game, all periods."""
        return self.get_text(
            "playbyplayv3", {"GameID": game_id, "StartPeriod": "0", "EndPeriod": "0"}, f"game {game_id}"
        )

    def game_log(self, season: str, season_type: str = "Regular Season") -> str:
        """The `leaguegamelog` response of a season's team rows (two per game), as nba_api asks for it."""
        params = {
            "Counter": "0", "Direction": "ASC", "LeagueID": "00", "PlayerOrTeam": "T", "Season": season,
            "SeasonType": season_type, "Sorter": "DATE", "DateFrom": "", "DateTo": "",
        }  # fmt: skip
        return self.get_text("leaguegamelog", params, f"game log {season} {season_type}")


def default_cache() -> Path:
    """`PLAYCAST_NBA_CACHE`, default `nba_stats_cache/` beside the warehouse file."""
    from warehouse import warehouse_path

    value = os.environ.get(CACHE_ENV)
    return Path(value).expanduser().resolve() if value else warehouse_path().parent / "nba_stats_cache"


class ResponseCache:
    """Raw playbyplayv3 responses, one JSON file per game (`<root>/playbyplayv3/<season>/<game_id>.json`),
    written atomically so an interrupted run never leaves half a file.
    """

    def __init__(self, root: Path | None = None) -> None:
        self.root = root or default_cache()

    def path(self, season: str, game_id: str) -> Path:
        return self.root / "playbyplayv3" / season / f"{game_id}.json"

    def has(self, season: str, game_id: str) -> bool:
        return self.path(season, game_id).exists()

    def put(self, season: str, game_id: str, text: str) -> Path:
        path = self.path(season, game_id)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{os.getpid()}.partial")
        try:
            partial.write_text(text, encoding="utf-8")
            os.replace(partial, path)
        except BaseException:
            partial.unlink(missing_ok=True)
            raise
        return path


def backfill_pbp(
    client: StatsClient,
    cache: ResponseCache,
    season: str,
    game_ids: list[str],
    progress: Callable[[str], None] = log.info,
) -> Iterator[tuple[str, Path]]:
    """(game_id, cached file) of every game, fetching only the games not cached yet (an interrupted
    backfill continues where it stopped)."""
    missing = [g for g in game_ids if not cache.has(season, g)]
    progress(
        f"nba pbp {season}: {len(game_ids) - len(missing)} of {len(game_ids)} games cached, "
        f"fetching {len(missing)} from {client.base_url}"
    )
    started = time.monotonic()
    for count, game_id in enumerate(missing, start=1):
        cache.put(season, game_id, client.play_by_play(game_id))
        if count % 25 == 0 or count == len(missing):
            seconds = time.monotonic() - started
            progress(f"nba pbp {season}: {count}/{len(missing)} games fetched in {seconds:.0f} s")
    for game_id in game_ids:
        yield game_id, cache.path(season, game_id)

"""NFL raw assets, one season partition each: raw.nfl_games, raw.nfl_pbp, raw.nfl_game_feed."""

import dagster as dg

from assets.season_tables import RowCheck, season_of, write_season
from ingest import nfl_game_feed, nflverse
from orchestration.partitions import nfl_seasons
from orchestration.resources import SourceData, Warehouse

GROUP = "nfl_raw"
GAMES_KEY = dg.AssetKey(["raw", "nfl_games"])
PBP_KEY = dg.AssetKey(["raw", "nfl_pbp"])
FEED_KEY = dg.AssetKey(["raw", "nfl_game_feed"])


def _unique_plays(table: str) -> RowCheck:
    return RowCheck(
        "unique_play_key",
        "(game_id, play_id) identifies one play",
        f"select count(*) from (select game_id, play_id from {table} where season = $season "
        "group by all having count(*) > 1)",
    )


def _games_have_plays(table: str) -> RowCheck:
    return RowCheck(
        "every_game_has_plays",
        "every game of the season in raw.nfl_games has plays",
        f"select count(*) from raw.nfl_games g where g.season = $season "
        f"and not exists (select 1 from {table} p where p.game_id = g.game_id)",
    )


GAMES_CHECKS = [
    RowCheck(
        "unique_game_id",
        "one row per game_id",
        "select count(*) - count(distinct game_id) from raw.nfl_games where season = $season",
    ),
]
PBP_CHECKS = [
    _unique_plays("raw.nfl_pbp"),
    _games_have_plays("raw.nfl_pbp"),
    RowCheck(
        "final_score_matches_games",
        "each game's final score in the plays (highest score after a play) equals raw.nfl_games",
        """
        with plays as (
            select game_id,
                   max(case when posteam = home_team then posteam_score_post
                            when defteam = home_team then defteam_score_post end) as home_score,
                   max(case when posteam = away_team then posteam_score_post
                            when defteam = away_team then defteam_score_post end) as away_score
            from raw.nfl_pbp where season = $season group by game_id
        )
        select count(*) from plays join raw.nfl_games g using (game_id)
        where plays.home_score is distinct from g.home_score or plays.away_score is distinct from g.away_score
        """,
    ),
]
FEED_CHECKS = [_unique_plays("raw.nfl_game_feed"), _games_have_plays("raw.nfl_game_feed")]


@dg.asset(
    key=GAMES_KEY,
    group_name=GROUP,
    partitions_def=nfl_seasons,
    pool="warehouse",
    kinds={"duckdb"},
    check_specs=[c.spec(GAMES_KEY) for c in GAMES_CHECKS],
    description="nflverse schedule of a season: teams, kickoff, spread and total lines, rest, roof, results.",
)
def nfl_games(
    context: dg.AssetExecutionContext, warehouse: Warehouse, source_data: SourceData
) -> dg.MaterializeResult:
    loaded = nflverse.load_games(season_of(context), source_data.mirror_path)
    preview = ["game_id", "gameday", "home_team", "away_team", "spread_line", "total_line", "result"]
    return write_season(context, warehouse, "raw.nfl_games", loaded, GAMES_CHECKS, preview)


@dg.asset(
    key=PBP_KEY,
    deps=[GAMES_KEY],
    group_name=GROUP,
    partitions_def=nfl_seasons,
    pool="warehouse",
    kinds={"duckdb"},
    check_specs=[c.spec(PBP_KEY) for c in PBP_CHECKS],
    description="nflverse play-by-play of a season, every column the source has (full schema or a subset).",
)
def nfl_pbp(
    context: dg.AssetExecutionContext, warehouse: Warehouse, source_data: SourceData
) -> dg.MaterializeResult:
    loaded = nflverse.load_pbp(season_of(context), source_data.mirror_path)
    preview = ["game_id", "play_id", "posteam", "down", "ydstogo", "yardline_100", "play_type"]
    return write_season(context, warehouse, "raw.nfl_pbp", loaded, PBP_CHECKS, preview)


@dg.asset(
    key=FEED_KEY,
    deps=[GAMES_KEY],
    group_name=GROUP,
    partitions_def=nfl_seasons,
    pool="warehouse",
    kinds={"duckdb"},
    check_specs=[c.spec(FEED_KEY) for c in FEED_CHECKS],
    description="NFL.com game-feed plays of a season (the live-event format): quarter, clock, description, "
    "scoring, possession and the play's stats.",
)
def nfl_game_feed_plays(
    context: dg.AssetExecutionContext, warehouse: Warehouse, source_data: SourceData
) -> dg.MaterializeResult:
    season = season_of(context)
    game_ids: list[str] = []
    if source_data.mirror_path is None:  # the network source is fetched game by game, from the schedule
        with warehouse.connect(read_only=True) as con:
            game_ids = [
                r[0]
                for r in con.execute(
                    "select game_id from raw.nfl_games where season = ?", [season]
                ).fetchall()
            ]
    loaded = nfl_game_feed.load_game_feed(
        season, source_data.mirror_path, game_ids, progress=context.log.info
    )
    preview = ["game_id", "play_id", "quarter", "clock", "drive_team", "play_type", "description"]
    return write_season(context, warehouse, "raw.nfl_game_feed", loaded, FEED_CHECKS, preview)


nfl_raw_assets = [nfl_games, nfl_pbp, nfl_game_feed_plays]

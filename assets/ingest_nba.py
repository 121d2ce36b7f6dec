"""NBA raw assets, one season partition each ('2024-25'): raw.nba_games (LeagueGameLog), raw.nba_pbp
(PlayByPlayV3)."""

import dagster as dg

from assets.season_tables import RowCheck, season_of, write_season
from ingest import nba
from orchestration.partitions import nba_seasons
from orchestration.resources import SourceData, Warehouse

GROUP = "nba_raw"
GAMES_KEY = dg.AssetKey(["raw", "nba_games"])
PBP_KEY = dg.AssetKey(["raw", "nba_pbp"])

GAMES_CHECKS = [
    RowCheck(
        "one_home_one_away_row",
        "every game has two rows of two teams: one home ('BOS vs. NYK') and one away ('NYK @ BOS'), or two "
        "'@' rows at a neutral site",
        """
        select count(*) from (
            select GAME_ID from raw.nba_games where season = $season group by GAME_ID
            having count(*) <> 2 or count(distinct TEAM_ID) <> 2
                or count(*) filter (where MATCHUP like '% vs. %') not in (0, 1)
                or count(*) filter (where MATCHUP like '% @ %') not in (1, 2)
        )
        """,
    ),
    RowCheck(
        "neutral_site_games",
        "games whose two rows both read '@' (Mexico City, Paris, NBA Cup in Las Vegas): the home team is the "
        "one PlayByPlayV3 marks location 'h'",
        "select count(*) from (select GAME_ID from raw.nba_games where season = $season group by GAME_ID "
        "having count(*) filter (where MATCHUP like '% vs. %') = 0)",
        report_only=True,
    ),
]
PBP_CHECKS = [
    RowCheck(
        "unique_action_key",
        "(gameId, actionId) identifies one action",
        "select count(*) from (select gameId, actionId from raw.nba_pbp where season = $season "
        "group by all having count(*) > 1)",
    ),
    RowCheck(
        "repeated_action_numbers",
        "(gameId, actionNumber) pairs shared by several actions: a block or steal shares the shot's or the "
        "turnover's actionNumber in PlayByPlayV3, so this is reported, not enforced",
        "select count(*) from (select gameId, actionNumber from raw.nba_pbp where season = $season "
        "group by all having count(*) > 1)",
        report_only=True,
    ),
    RowCheck(
        "every_game_has_actions",
        "every game of the season in raw.nba_games has actions",
        "select count(distinct g.GAME_ID) from raw.nba_games g where g.season = $season "
        "and not exists (select 1 from raw.nba_pbp p where p.gameId = g.GAME_ID)",
    ),
    RowCheck(
        "final_score_matches_game_log",
        "both teams' final scores in the actions (scoreHome/scoreAway of the last made shot or free throw by "
        "actionId: period and replay rows can carry a stale score, e.g. game 0022301202) equal the game log "
        "PTS (home: the 'vs.' row; at a neutral site the team the actions mark location 'h')",
        """
        with actions as (
            select gameId as game_id,
                   arg_max(scoreHome, actionId) filter (where scored) as home_score,
                   arg_max(scoreAway, actionId) filter (where scored) as away_score,
                   any_value(teamId) filter (where location = 'h' and teamTricode is not null) as home_team_id
            from (
                select *, actionType in ('Made Shot', 'Free Throw') and scoreHome is not null as scored
                from raw.nba_pbp where season = $season
            ) group by gameId
        ), log as (
            select g.GAME_ID as game_id, g.PTS,
                   g.MATCHUP like '% vs. %' or (g.TEAM_ID = a.home_team_id and count(*) filter (
                       where g.MATCHUP like '% vs. %') over (partition by g.GAME_ID) = 0) as is_home
            from raw.nba_games g left join actions a on a.game_id = g.GAME_ID where g.season = $season
        ), finals as (
            select game_id, max(PTS) filter (where is_home) as home_score,
                   max(PTS) filter (where not is_home) as away_score
            from log group by game_id
        )
        select count(*) from actions left join finals using (game_id)
        where actions.home_score is distinct from finals.home_score
           or actions.away_score is distinct from finals.away_score
        """,
    ),
]


@dg.asset(
    key=GAMES_KEY,
    group_name=GROUP,
    partitions_def=nba_seasons,
    pool="warehouse",
    kinds={"duckdb"},
    check_specs=[c.spec(GAMES_KEY) for c in GAMES_CHECKS],
    description="LeagueGameLog of a regular season: two team rows per game (home 'vs.', away '@'), points.",
)
def nba_games(
    context: dg.AssetExecutionContext, warehouse: Warehouse, source_data: SourceData
) -> dg.MaterializeResult:
    loaded = nba.load_games(season_of(context), source_data.mirror_path)
    preview = ["GAME_ID", "GAME_DATE", "TEAM_ABBREVIATION", "MATCHUP", "WL", "PTS"]
    return write_season(context, warehouse, "raw.nba_games", loaded, GAMES_CHECKS, preview, "GAME_ID")


@dg.asset(
    key=PBP_KEY,
    deps=[GAMES_KEY],
    group_name=GROUP,
    partitions_def=nba_seasons,
    pool="warehouse",
    kinds={"duckdb"},
    check_specs=[c.spec(PBP_KEY) for c in PBP_CHECKS],
    description="PlayByPlayV3 actions of a season, the 24 stats.nba.com columns (from the mirror, or fetched "
    "game by game through a resumable cache of the raw responses).",
)
def nba_pbp(
    context: dg.AssetExecutionContext, warehouse: Warehouse, source_data: SourceData
) -> dg.MaterializeResult:
    season = season_of(context)
    game_ids: list[str] = []
    if source_data.mirror_path is None:  # the network source is fetched game by game, from the game log
        with warehouse.connect(read_only=True) as con:
            game_ids = [
                r[0]
                for r in con.execute(
                    "select distinct GAME_ID from raw.nba_games where season = ? order by 1", [season]
                ).fetchall()
            ]
    loaded = nba.load_pbp(season, source_data.mirror_path, game_ids, progress=context.log.info)
    preview = [
        "gameId",
        "actionId",
        "period",
        "clock",
        "teamTricode",
        "scoreHome",
        "scoreAway",
        "description",
    ]
    return write_season(context, warehouse, "raw.nba_pbp", loaded, PBP_CHECKS, preview, "gameId")


nba_raw_assets = [nba_games, nba_pbp]

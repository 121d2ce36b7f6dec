{#-
    Generic test: the combination of `columns` is unique in the model (no dbt_utils needed).
    Usage (model level):
        data_tests:
          - unique_combination:
              arguments:
                columns: [game_id, play_id]
-#}
{% test unique_combination(model, columns) %}
select {{ columns | join(', ') }}, count(*) as n_rows
from {{ model }}
group by {{ columns | join(', ') }}
having count(*) > 1
{% endtest %}

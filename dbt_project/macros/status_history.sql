{#
    status_history(log_relation, key_column, runs_relation): a status log (one row per key x evaluation_date, written by an
    incremental model) with, per row, the previous evaluation's status and the date the current status began.

    Columns added:
      previous_evaluation_date  the evaluation run before this one (runs_relation: one row per evaluation_date),
                                whatever the key did
      previous_status           the key's status in that run; null when the key was not evaluated then
      since                     first evaluation_date of the uninterrupted run of evaluations that gave this
                                status: walking back over every evaluation run, the run ends at the first run
                                where the key had another status or was absent (a new key: its first date)
      transition                new (not evaluated in the previous run) | unchanged | reconnected (connected
                                or measured again) | newly_<status> (e.g. newly_orphaned)

    Rows are evaluated in evaluation_date order, not in the order runs happened, so restating a past date slots
    it into place and every later `since` follows.
#}
{% macro status_history(log_relation, key_column, runs_relation) -%}

with

status_log as (

    select * from {{ log_relation }}

),

runs as (

    select
        evaluation_date,
        lag(evaluation_date) over (order by evaluation_date) as previous_evaluation_date
    from {{ runs_relation }}

),

ordered as (

    select
        status_log.*,
        runs.previous_evaluation_date,
        lag(status_log.evaluation_date) over (
            partition by status_log.{{ key_column }} order by status_log.evaluation_date
        ) as previous_key_date,
        lag(status_log.status) over (
            partition by status_log.{{ key_column }} order by status_log.evaluation_date
        ) as previous_key_status
    from status_log
    left join runs
        on runs.evaluation_date = status_log.evaluation_date

),

flagged as (

    select
        *,
        -- the key's previous row counts only if it is from the previous evaluation run (no gap in between)
        case when previous_key_date = previous_evaluation_date then previous_key_status end as previous_status,
        case
            when previous_key_date = previous_evaluation_date and previous_key_status = status then 0
            else 1
        end as starts_run
    from ordered

),

numbered as (

    select
        *,
        sum(starts_run) over (
            partition by {{ key_column }} order by evaluation_date rows between unbounded preceding and current row
        ) as run_number
    from flagged

)

select
    *,
    min(evaluation_date) over (partition by {{ key_column }}, run_number) as since,
    case
        when previous_status is null then 'new'
        when previous_status = status then 'unchanged'
        when status in ('connected', 'measured') then 'reconnected'
        else 'newly_' || status
    end as transition
from numbered

{%- endmacro %}

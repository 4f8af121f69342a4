-- int_objective_status_log with the previous run's status, the transition and `since`
-- (macros/status_history.sql).
{{ kpi_alignment.status_history(ref('int_objective_status_log'), 'objective_id', ref('int_evaluation_runs')) }}

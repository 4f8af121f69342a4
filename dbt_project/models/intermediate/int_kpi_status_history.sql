-- int_kpi_status_log with, per KPI and evaluation date, the previous run's status, the transition and the date
-- the status began (`since`; macros/status_history.sql).
{{ kpi_alignment.status_history(ref('int_kpi_status_log'), 'kpi_id', ref('int_evaluation_runs')) }}

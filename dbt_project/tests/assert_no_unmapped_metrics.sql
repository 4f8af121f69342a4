{#
    Data check: metric names arriving in the data that no KPI claims (marts.unmapped_metrics), with a "renamed?"
    note when one looks like the metric of a KPI that stopped arriving (case B18).
    Severity: var severity.unmapped (default warn; not a project setting). Attached to unmapped_metrics (B21).
#}
{%- set check = kpi_alignment.alignment_check_config('unmapped', 'warn') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "unmapped_metrics"}}},
) }}

select metric_name, source_name, first_row_date, renamed_from_kpi_ids, note
from {{ ref('unmapped_metrics') }}

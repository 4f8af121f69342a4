{#
    Alignment check: pursued strategic objectives measured only by silent KPIs (objective_alignment.status =
    'stale'). Severity: var severity.stale (default warn). Attached to objective_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('stale', 'warn') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "objective_alignment"}}},
) }}

select objective_id, name, cause_code, cause_text, silent_kpi_ids, since
from {{ ref('objective_alignment') }}
where status = 'stale'
    and level = 'strategic'

{#
    Alignment check: KPIs whose links reach no live strategic objective (kpi_alignment.status = 'disconnected').
    Severity: var severity.disconnected (default error). Attached to kpi_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('disconnected', 'error') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "kpi_alignment"}}},
) }}

select kpi_id, kpi_name, owner, cause_code, cause_text
from {{ ref('kpi_alignment') }}
where status = 'disconnected'

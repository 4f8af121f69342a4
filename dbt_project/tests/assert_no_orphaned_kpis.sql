{#
    Alignment check: active KPIs linked to no objective (kpi_alignment.status = 'orphaned').
    Severity: var severity.orphaned (error | warn | off, default warn). One ref only, and the dagster meta names
    it explicitly, so the test is an asset check on kpi_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('orphaned', 'warn') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "kpi_alignment"}}},
) }}

select kpi_id, kpi_name, owner, cause_code, cause_text
from {{ ref('kpi_alignment') }}
where status = 'orphaned'

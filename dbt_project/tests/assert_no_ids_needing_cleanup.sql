{#
    Data-quality check (case B28): KPI ids, parent ids or link ids that only matched after clean-up (surrounding
    whitespace, letter case). They are linked, and reported here so that the catalog or source gets fixed.
    Severity: var severity.id_cleanup (default warn). Attached to kpi_alignment (case B21).
#}
{%- set check = kpi_alignment.alignment_check_config('id_cleanup', 'warn') -%}
{{ config(
    enabled=check.enabled,
    severity=check.severity,
    meta={"dagster": {"ref": {"name": "kpi_alignment"}}},
) }}

select kpi_id, id_cleanup_text
from {{ ref('kpi_alignment') }}
where id_needed_cleanup

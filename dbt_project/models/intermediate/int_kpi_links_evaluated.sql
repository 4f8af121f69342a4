-- One row per KPI -> objective link of the catalog as of the evaluation (int_kpi_links_as_of), its ids resolved
-- against that same catalog (macros/ids.sql) and judged on the evaluation date: link_state says whether it counts
-- for alignment and, if it does not reach a live strategic objective, why.

with

links as (

    select * from {{ ref('int_kpi_links_as_of') }}

),

run_context as (

    select evaluation_date from {{ ref('stg_catalog__run_context') }}

),

kpis as (

    select kpi_id from {{ ref('int_kpis_as_of') }}

),

objectives as (

    select objective_id, name from {{ ref('int_objectives_as_of') }}

),

paths as (

    select * from {{ ref('int_objective_paths') }}

),

resolved as (

    select
        links.*,
        {{ kpi_alignment.resolve_id('links.kpi_id_as_written', ref('int_kpis_as_of'), 'kpi_id') }}
            as resolved_kpi_id,
        {{ kpi_alignment.resolve_id('links.objective_id_as_written', ref('int_objectives_as_of'), 'objective_id') }}
            as resolved_objective_id
    from links

),

joined as (

    select
        resolved.link_key,
        resolved.resolved_kpi_id as kpi_id,
        resolved.kpi_id_as_written,
        exists (select 1 from kpis where kpis.kpi_id = resolved.resolved_kpi_id) as kpi_known,
        resolved.resolved_objective_id as objective_id,
        resolved.objective_id_as_written,
        objectives.name as objective_name,
        objectives.objective_id is not null as objective_known,
        {{ kpi_alignment.id_cleanup_reason('resolved.kpi_id_as_written', 'resolved.resolved_kpi_id') }}
            as kpi_id_cleanup_reason,
        {{ kpi_alignment.id_cleanup_reason('resolved.objective_id_as_written', 'resolved.resolved_objective_id') }}
            as objective_id_cleanup_reason,
        resolved.weight,
        resolved.informational,
        resolved.valid_from,
        resolved.valid_to,
        (resolved.valid_from is null or resolved.valid_from <= run_context.evaluation_date)
            and (resolved.valid_to is null or resolved.valid_to >= run_context.evaluation_date)
            as is_valid_on_evaluation_date,
        paths.reaches_live_strategic,
        paths.strategic_objective_id,
        paths.objective_path,
        paths.break_code as chain_break_code,
        paths.break_text as chain_break_text,
        paths.break_objective_id = paths.objective_id and paths.not_live_code is not null as breaks_itself,
        paths.not_live_reason,
        resolved.origin,
        resolved.source_name,
        run_context.evaluation_date
    from resolved
    cross join run_context
    left join objectives
        on objectives.objective_id = resolved.resolved_objective_id
    left join paths
        on paths.objective_id = resolved.resolved_objective_id

),

judged as (

    select
        *,
        case
            when objective_id is null then 'no_objective_id'
            when informational then 'informational'
            when valid_from > evaluation_date then 'link_not_yet_valid'
            when valid_to < evaluation_date then 'link_expired'
            when not objective_known then 'unknown_objective'
            when not reaches_live_strategic then chain_break_code
            else 'live'
        end as link_state
    from joined

),

final as (

    select
        *,
        -- an active link: names a known objective, is not informational and is valid on the evaluation date
        objective_known and not informational and is_valid_on_evaluation_date as is_active,
        link_state = 'live' as is_live,
        case link_state
            when 'live' then 'link to ' || {{ kpi_alignment.label('objective_id', 'objective_name') }}
                || case when objective_id = strategic_objective_id then ', a live strategic objective'
                    else ', which reaches strategic objective ' || strategic_objective_id
                        || ' (' || objective_path || ')' end
            when 'no_objective_id' then 'a link row names no objective id'
            when 'informational' then 'link to ' || {{ kpi_alignment.label('objective_id', 'objective_name') }}
                || ' is informational and does not count'
            when 'link_not_yet_valid' then 'link to ' || {{ kpi_alignment.label('objective_id', 'objective_name') }}
                || ' is valid only from ' || cast(valid_from as {{ dbt.type_string() }})
            when 'link_expired' then 'link to ' || {{ kpi_alignment.label('objective_id', 'objective_name') }}
                || ' ended on ' || cast(valid_to as {{ dbt.type_string() }})
            when 'unknown_objective' then 'link names objective ''' || objective_id
                || ''', which is not in the catalog'
            else 'link to ' || {{ kpi_alignment.label('objective_id', 'objective_name') }}
                || case when breaks_itself then ', which ' || not_live_reason else ': ' || chain_break_text end
        end as link_text
    from judged

)

select * from final

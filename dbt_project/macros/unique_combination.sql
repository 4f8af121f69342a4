{#
    Generic test: no two rows share the same values in `combination` (a list of column names).
    GROUP BY treats nulls as equal, so a null key part cannot hide a duplicate (case B17).
    `refreshed_column` (an incremental model's "written at" column): only the keys of rows the latest build wrote
    are checked, because rows an earlier build wrote were checked then. Restricting the keys, not the rows, still
    catches a new row duplicating an old one, without grouping all history every night.
#}
{% test unique_combination(model, combination, refreshed_column=none) %}
    {%- set checked = [] %}
    {%- for column in combination %}{% do checked.append('checked.' ~ column) %}{% endfor %}
    with

    checked as (

        select * from {{ model }} as candidate
        {%- if refreshed_column %}
        where exists (
            select 1
            from {{ model }} as refreshed
            where refreshed.{{ refreshed_column }} = (select max({{ refreshed_column }}) from {{ model }})
                {%- for column in combination %}
                and refreshed.{{ column }} is not distinct from candidate.{{ column }}
                {%- endfor %}
        )
        {%- endif %}

    )

    select
        {{ checked | join(', ') }},
        count(*) as n_rows
    from checked
    group by {{ checked | join(', ') }}
    having count(*) > 1
{% endtest %}

{#
    Generic test: no two rows share the same values in `combination` (a list of column names).
    GROUP BY treats nulls as equal, so a null key part cannot hide a duplicate (case B17).
#}
{% test unique_combination(model, combination) %}
    select
        {{ combination | join(', ') }},
        count(*) as n_rows
    from {{ model }}
    group by {{ combination | join(', ') }}
    having count(*) > 1
{% endtest %}

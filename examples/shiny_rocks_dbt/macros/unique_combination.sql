{#- A generic test: no two rows share the same values of `columns` (like dbt_utils'
    unique_combination_of_columns, written here so the project needs no package download). -#}
{% test unique_combination(model, columns) %}
SELECT {{ columns | join(', ') }}, COUNT(*) AS rows_with_these_values
FROM {{ model }}
GROUP BY {{ columns | join(', ') }}
HAVING COUNT(*) > 1
{% endtest %}

{#- Inconsistent enum casing (`Paid`, `PAID`, `dhl`): map the value, compared case-blind and
    trimmed, to its one accepted spelling. A value outside the list stays as it was, so an
    accepted_values test still catches a new, unknown value. -#}
{% macro accepted_spelling(column, values) -%}
case lower(trim({{ column }}))
{%- for v in values %}
  when '{{ v | lower }}' then '{{ v }}'
{%- endfor %}
  else {{ column }}
end
{%- endmacro %}

{#- Models go into the profile's schema as named, not `<schema>_<custom>`: `aladdin verify`
    reads the clean tables by their source names from one schema. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
{{ target.schema }}
{%- endmacro %}

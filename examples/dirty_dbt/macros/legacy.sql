-- The legacy export's timestamps: epoch seconds, `MM/DD/YYYY hh:mm:ss AM ZONE` (fixed
-- standard-time zones), or RFC 3339 with `Z` or an offset.
{% macro legacy_timestamp(column) %}
case
    when {{ column }} is null or {{ column }} = '' then null
    when {{ column }} ~ '^[0-9]+$' then to_timestamp({{ column }}::bigint)
    when {{ column }} like '%/%' then to_timestamp(
        left({{ column }}, 22) || ' ' || case split_part({{ column }}, ' ', 4)
            when 'UTC' then '+00:00' when 'EST' then '-05:00' when 'PST' then '-08:00'
            when 'CET' then '+01:00' when 'IST' then '+05:30' when 'JST' then '+09:00'
        end,
        'MM/DD/YYYY HH12:MI:SS AM TZH:TZM')
    else {{ column }}::timestamptz
end
{% endmacro %}

-- A Latin-1 export writes a character it has no byte for as `&#269;`: back to the character.
{% macro unescape_char_refs(column) %}
coalesce((
    select string_agg(
        case when m[1] ~ '^&#[0-9]+;$'
            then chr(substring(m[1] from 3 for length(m[1]) - 3)::int)
            else m[1] end,
        '' order by n)
    from regexp_matches({{ column }}, '(&#[0-9]+;|[^&]+|&)', 'g') with ordinality as r(m, n)
), {{ column }})
{% endmacro %}

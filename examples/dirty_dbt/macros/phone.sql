{#- Malformed phone numbers (`(030) 1234-5678`, `493012345678`, `0049 30 12345678`,
    `+49 30 12345678 x12`) back to E.164 (`+493012345678`), knowing the customer's country:
    drop an extension, keep the digits; a `+` or `00` leads the calling code; a trunk `0`
    leads a national number; more digits than the country's longest national number already
    hold the calling code (only the `+` is missing); else the number is national without a
    trunk prefix (Italy, North America, Brazil). -#}
{% macro e164_phone(phone, country) -%}
{%- set plans = {
    'BR': ('55', '', 11), 'CA': ('1', '', 10), 'DE': ('49', '0', 11), 'FR': ('33', '0', 9),
    'GB': ('44', '0', 10), 'IT': ('39', '', 10), 'NL': ('31', '0', 9), 'US': ('1', '', 10),
} -%}
{%- set digits -%}
regexp_replace(regexp_replace({{ phone }}, '\s*(x|ext\.?)\s*[0-9]+\s*$', '', 'i'), '[^0-9]', '', 'g')
{%- endset -%}
case
    when nullif(trim({{ phone }}), '') is null then null
    when trim({{ phone }}) like '+%' then '+' || {{ digits }}
    when {{ digits }} like '00%' then '+' || substr({{ digits }}, 3)
{%- for cc, plan in plans.items() %}
    when upper(trim({{ country }})) = '{{ cc }}' then case
        {%- if plan[1] %}
        when {{ digits }} like '{{ plan[1] }}%' then '+{{ plan[0] }}' || substr({{ digits }}, {{ plan[1] | length + 1 }})
        {%- endif %}
        when length({{ digits }}) > {{ plan[2] }} then '+' || {{ digits }}
        else '+{{ plan[0] }}' || {{ digits }}
    end
{%- endfor %}
    else {{ phone }}
end
{%- endmacro %}

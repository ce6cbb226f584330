-- The legacy CRM export of customers (OUT/legacy_customers_export/), landed as text by a
-- loader that read each file in its encoding (a BOM: UTF-8; otherwise Latin-1, e.g. COPY …
-- ENCODING 'LATIN1'), or by `generate --dirty --out postgres://…` with customers (the cells
-- as text; a database has no encoding, the character references are then not there). Built
-- only with --vars '{legacy_export: true}' (a landing without it has no such table).
{{ config(enabled=var('legacy_export', false)) }}
with typed as (
    select
        id::uuid as id,
        {{ legacy_timestamp('created_at') }} as created_at,  -- mixed_timestamp
        {{ legacy_timestamp('updated_at') }} as updated_at,
        {{ legacy_timestamp('deleted_at') }} as deleted_at,
        {{ unescape_char_refs('first_name') }} as first_name,  -- latin1_encoding: &#NNN;
        {{ unescape_char_refs('last_name') }} as last_name,
        email,
        nullif(phone, '') as phone,  -- the export writes a null as nothing
        username,
        country,
        {{ unescape_char_refs('city') }} as city,
        persona,
        marketing_opt_in::boolean as marketing_opt_in
    from {{ source('raw_shop', 'legacy_customers_export') }}
)
-- one file a day holds every version: keep the newest
select distinct on (id) *
from typed
order by id, updated_at desc

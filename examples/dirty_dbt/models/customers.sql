-- Customers: the current state of each account.
with typed as (
    select distinct  -- exact duplicates: the same row twice
        id::uuid as id,
        created_at::timestamptz as created_at,
        updated_at::timestamptz as updated_at,
        deleted_at::timestamptz as deleted_at,
        -- near duplicates: the copy has a text value padded with spaces
        trim(first_name) as first_name,
        trim(last_name) as last_name,
        -- malformed emails: ' JOHN@X.COM ', 'john@@x.com', 'john at x.com'
        replace(replace(lower(trim(email)), ' at ', '@'), '@@', '@') as email,
        -- malformed phones: '(030) 1234-5678', '493012345678', '0049 30 12345678', '… x12'
        {{ e164_phone('phone', 'country') }} as phone,
        trim(username) as username,
        upper(trim(country)) as country,  -- enum casing: ISO codes are upper case
        trim(city) as city,
        {{ accepted_spelling('persona', ['window_shopper', 'future_buyer', 'buyer', 'loyal']) }} as persona,
        marketing_opt_in::boolean as marketing_opt_in
    from {{ source('raw_shop', 'customers') }}
)
-- daily extracts hold every version: keep the newest
select distinct on (id) *
from typed
order by id, updated_at desc

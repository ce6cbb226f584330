-- Shipments: the current state of each parcel.
with typed as (
    select distinct  -- exact duplicates
        id::uuid as id,
        order_id::uuid as order_id,
        {{ accepted_spelling('carrier', ['DHL', 'UPS', 'DPD', 'FedEx', 'USPS']) }} as carrier,
        {{ accepted_spelling('status', ['shipped', 'delivery_failed', 'delivered', 'returned']) }} as status,
        attempts::bigint as attempts,
        shipped_at::timestamptz as shipped_at,
        delivered_at::timestamptz as delivered_at,
        updated_at::timestamptz as updated_at
    from {{ source('raw_shop', 'shipments') }}
),
latest as (
    select distinct on (id) * from typed order by id, updated_at desc
)
select
    id, order_id, carrier, status, attempts, shipped_at,
    -- nulls: delivery is a parcel's last change, so a delivered parcel lacking its delivery
    -- time was delivered when it last changed
    case when status = 'delivered' then coalesce(delivered_at, updated_at)
         else delivered_at end as delivered_at,
    updated_at
from latest

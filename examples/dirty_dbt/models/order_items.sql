-- Order lines, each once.
with orders as (
    select distinct id from {{ source('raw_shop', 'orders') }}
),
typed as (
    select distinct  -- exact duplicates
        i.order_id::uuid as order_id,
        i.line_number::bigint as line_number,
        i.product_id::uuid as product_id,
        i.quantity::bigint as quantity,
        i.unit_price::numeric as unit_price,
        i.created_at::timestamptz as created_at
    from {{ source('raw_shop', 'order_items') }} i
    -- orphans: a line whose order never arrived is dropped
    where i.order_id in (select id from orders)
),
-- the lowest price a product was ever seen at, in the catalogue or on a line: a price in
-- cents is a hundred times any real price change
reference as (
    select t.product_id, least(min(t.unit_price), min(p.price::numeric)) as price
    from typed t
    left join {{ source('raw_shop', 'products') }} p on p.id::uuid = t.product_id
    group by t.product_id
)
select
    t.order_id,
    t.line_number,
    t.product_id,
    t.quantity,
    -- amounts in cents: a unit price fifty times the product's lowest price is in cents
    case when t.unit_price >= 50 * r.price then round(t.unit_price / 100, 2)
         else t.unit_price end as unit_price,
    t.created_at
from typed t
join reference r using (product_id)

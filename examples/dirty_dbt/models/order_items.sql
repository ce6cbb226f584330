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
),
priced as (
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
),
-- abandoned cart lines: items added to the cart and not bought come after the bought lines,
-- and the order's subtotal sums only the bought ones; so an order's lines end at the first
-- line where the running sum reaches a subtotal the order was delivered with (in units,
-- or in cents when its row had its amounts in cents)
running as (
    select p.*,
        sum(p.quantity * p.unit_price) over (
            partition by p.order_id order by p.line_number
        ) as running_sum
    from priced p
),
subtotals as (
    select distinct id::uuid as order_id, nullif(trim(subtotal), '')::numeric as subtotal
    from {{ source('raw_shop', 'orders') }}
),
last_line as (
    select r.order_id,
        coalesce(
            min(r.line_number) filter (where r.running_sum = s.subtotal),
            min(r.line_number) filter (where 100 * r.running_sum = s.subtotal)
        ) as line_number
    from running r
    join subtotals s using (order_id)
    group by r.order_id
)
select p.order_id, p.line_number, p.product_id, p.quantity, p.unit_price, p.created_at
from priced p
left join last_line l using (order_id)
-- an order no subtotal matches keeps every line (nothing to tell the extra ones by)
where l.line_number is null or p.line_number <= l.line_number

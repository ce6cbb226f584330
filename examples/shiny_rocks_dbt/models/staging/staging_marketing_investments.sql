-- The spreadsheet names platforms `amazon`, orders carry utm_source `_amazon`: the blog's
-- CONCAT("_", platform) makes them joinable.
SELECT
    date::date AS date,
    to_char(date::date, 'YYYY-MM') AS month_year,
    '_' || platform AS platform,
    amount::numeric(12, 2) AS amount
FROM {{ source('shiny_rocks', 'marketing_investments') }}

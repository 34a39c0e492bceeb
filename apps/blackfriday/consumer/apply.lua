-- apply.lua: applies one batch of Kafka records to the dashboard's aggregates, atomically, each record once.
--
-- Called by blackfriday.consumer.store.Store, which passes the key names of blackfriday.keys as KEYS and
-- the batch as ARGV (docs/valkey-keys.md describes every key). Valkey runs a script atomically, so several
-- consumers can apply batches at the same time and every aggregate stays exact: there is no
-- read-then-write race between them (the seed's GET-then-SET of the max/min price had one).
--
-- Exactly once: the applied offset of each partition is kept in the same hash the script updates in the
-- same call as the aggregates (offsets kept with the data, as Kafka Connect's exactly-once sinks do).
-- A record at or below its partition's applied offset was applied before (Kafka delivered it again after
-- a crash, a rebalance, a rewind): it is skipped. The pipeline never writes a sale to Kafka twice, so one
-- record is one sale, and the memory this takes is one field per partition, whatever the number of sales.
--
-- Per partition in the batch the caller passes the offset of its first record, the last record's offset
-- and whether a gap is accepted. first > applied + 1 is a gap: records the store should have are missing
-- from it (its primary was lost before its replica had the last batches). Nothing is applied and the gaps
-- are returned: the consumer reads those partitions again from applied + 1. A gap is accepted only when
-- Kafka no longer has the records in between (read from applied + 1, Kafka gave later ones: retention
-- removed them). A log made again behind the store (the topic deleted and created again) is found by the
-- consumer when it is assigned the partition (Store.forget_beyond).
-- With no partition in the batch the script only moves the throughput clock (the consumer's idle tick).
--
-- KEYS  the global keys, in the order of GLOBAL_KEYS below, then for each category (in category number
--       order) its three keys, in the order of CATEGORY_KEYS below.
-- ARGV  1 price history cap   2 throughput history cap (s)   3 N, the number of categories
--       4 .. 3+N the category names   4+N P, the number of partitions in the batch
--       then four fields per partition: name (topic/partition), first offset, last offset, gap accepted
--       (0/1); then seven fields per sale: partition index (1..P), offset, id, category number (1..N),
--       product id, price cents, quantity
-- Returns {applied, skipped, gaps}: gaps is a flat list of partition name, applied offset.

local GLOBAL_KEYS = {
  'sales_total', 'price_max', 'price_min', 'product_units',
  'category_sales', 'category_units', 'category_price_cents', 'category_avg_units', 'category_avg_price',
  'throughput', 'throughput_clock', 'applied',
}
local CATEGORY_KEYS = {'tracked', 'prices', 'products'}

local price_history_cap = tonumber(ARGV[1])
local throughput_cap = tonumber(ARGV[2])
local category_count = tonumber(ARGV[3])
local partition_count = tonumber(ARGV[4 + category_count])
local FIRST_PARTITION_ARG = 5 + category_count
local PARTITION_FIELDS = 4
local FIRST_SALE_ARG = FIRST_PARTITION_ARG + partition_count * PARTITION_FIELDS
local SALE_FIELDS = 7

if #KEYS ~= #GLOBAL_KEYS + category_count * #CATEGORY_KEYS then
  return redis.error_reply('apply.lua: expected ' .. (#GLOBAL_KEYS + category_count * #CATEGORY_KEYS)
    .. ' keys for ' .. category_count .. ' categories, got ' .. #KEYS)
end

local key = {}
for i, name in ipairs(GLOBAL_KEYS) do key[name] = KEYS[i] end

-- category[number] = {name = 'Belleza', tracked = <key>, prices = <key>, products = <key>}
local category = {}
for number = 1, category_count do
  local first = #GLOBAL_KEYS + (number - 1) * #CATEGORY_KEYS
  category[number] = {name = ARGV[3 + number]}
  for i, name in ipairs(CATEGORY_KEYS) do category[number][name] = KEYS[first + i] end
end

-- 0. Each partition's applied offset (-1: none yet), and the gaps: with one, nothing is applied.
local partition = {}
local gaps = {}
for index = 1, partition_count do
  local at = FIRST_PARTITION_ARG + (index - 1) * PARTITION_FIELDS
  local p = {name = ARGV[at], first = tonumber(ARGV[at + 1]), last = tonumber(ARGV[at + 2])}
  p.applied = tonumber(redis.call('HGET', key.applied, p.name) or '-1')
  if p.first > p.applied + 1 and ARGV[at + 3] ~= '1' then
    table.insert(gaps, p.name)
    table.insert(gaps, p.applied)
  end
  partition[index] = p
end
if #gaps > 0 then
  return {0, 0, gaps}
end

-- Prices are whole cents everywhere. Valkey's Lua numbers are doubles, exact for integers far beyond
-- the largest price (1,000,000.00 = 10^8 cents), so sums and comparisons of cents are exact.
local function money(cents)
  return string.format('%d.%02d', math.floor(cents / 100), cents % 100)
end

-- The max/min keys hold the text money() wrote ("123.45"): read it back as cents with integer
-- arithmetic only, never through a float (0.29 * 100 is 28.999999999999996).
local function cents_of(text)
  local units, cents = string.match(text, '^(%d+)%.(%d%d)$')
  if units == nil then return nil end
  return tonumber(units) * 100 + tonumber(cents)
end

-- 1. Skip the records applied before; sum up the new sales per category and per product.
local applied, skipped = 0, 0
local sales_of, units_of, cents_of_category, units_by_product = {}, {}, {}, {}
local units_by_category_product = {}
local batch_max_cents, batch_min_cents = nil, nil
local tracked_product = {} -- category number -> its tracked product (false: none yet), read once per call

for first = FIRST_SALE_ARG, #ARGV, SALE_FIELDS do
  local p = partition[tonumber(ARGV[first])]
  local offset = tonumber(ARGV[first + 1])
  local id = ARGV[first + 2]
  local number = tonumber(ARGV[first + 3])
  local product = ARGV[first + 4]
  local cents = tonumber(ARGV[first + 5])
  local quantity = tonumber(ARGV[first + 6])

  if offset > p.applied then
    applied = applied + 1
    sales_of[number] = (sales_of[number] or 0) + 1
    units_of[number] = (units_of[number] or 0) + quantity
    cents_of_category[number] = (cents_of_category[number] or 0) + cents
    units_by_product[product] = (units_by_product[product] or 0) + quantity
    units_by_category_product[number] = units_by_category_product[number] or {}
    units_by_category_product[number][product] = (units_by_category_product[number][product] or 0) + quantity
    if batch_max_cents == nil or cents > batch_max_cents then batch_max_cents = cents end
    if batch_min_cents == nil or cents < batch_min_cents then batch_min_cents = cents end

    -- The first product seen in a category is tracked for good; its prices go to a capped stream in
    -- arrival order (one product is one Kafka key, so one partition: the order is the order of sale).
    local c = category[number]
    if tracked_product[number] == nil then
      tracked_product[number] = redis.call('GET', c.tracked)
    end
    if not tracked_product[number] then
      tracked_product[number] = product
      redis.call('SET', c.tracked, product)
    end
    if product == tracked_product[number] then
      redis.call('XADD', c.prices, 'MAXLEN', price_history_cap, '*', 'precio', money(cents), 'sale_id', id)
    end
  else
    skipped = skipped + 1
  end
end

-- Every record of the batch is now applied, the ones that are not sales (kept on the dead-letter topic)
-- included: each partition's applied offset moves to its last record.
for _, p in ipairs(partition) do
  if p.last > p.applied then
    redis.call('HSET', key.applied, p.name, string.format('%d', p.last))
  end
end

-- 2. Add the sums: one command per category and per product, not per sale.
if applied > 0 then
  redis.call('INCRBY', key.sales_total, applied)
  for number, sales in pairs(sales_of) do
    local name = category[number].name
    local total_sales = redis.call('HINCRBY', key.category_sales, name, sales)
    local total_units = redis.call('HINCRBY', key.category_units, name, units_of[number])
    local total_cents = redis.call('HINCRBY', key.category_price_cents, name, cents_of_category[number])
    -- The averages are written as text with two decimals: the bar charts read them as they are.
    redis.call('HSET', key.category_avg_units, name, string.format('%.2f', total_units / total_sales))
    redis.call('HSET', key.category_avg_price, name, string.format('%.2f', total_cents / total_sales / 100))
  end
  for product, units in pairs(units_by_product) do
    redis.call('ZINCRBY', key.product_units, units, product)
  end
  for number, products in pairs(units_by_category_product) do
    for product, units in pairs(products) do
      redis.call('ZINCRBY', category[number].products, units, product)
    end
  end
  local max_cents = cents_of(redis.call('GET', key.price_max) or '')
  if max_cents == nil or batch_max_cents > max_cents then
    redis.call('SET', key.price_max, money(batch_max_cents))
  end
  local min_cents = cents_of(redis.call('GET', key.price_min) or '')
  if min_cents == nil or batch_min_cents < min_cents then
    redis.call('SET', key.price_min, money(batch_min_cents))
  end
end

-- 3. The throughput clock. The stream gets one entry per wall-clock second, id = that second, holding the
-- sales applied in it, written once the second is over. Valkey's own clock (TIME) is the one clock every
-- consumer shares. The clock hash holds the open second ('second'), the sales counted in it so far
-- ('sales'), and whether the open second must be written even if it stays idle ('owes_zero'): the
-- second right after a busy one gets a 0 entry, so graphs fall back to 0 when the sales stop instead of
-- drawing a line from the last busy second to the next.
local function write_second(second, sales)
  -- pcall: after Valkey's clock stepped back (NTP, a replica promoted), XADD refuses an id at or below the
  -- stream's last one; losing that one point is better than failing the whole batch.
  redis.pcall('XADD', key.throughput, 'MAXLEN', throughput_cap, string.format('%d-0', second * 1000), 'sales', sales)
end

local now = tonumber(redis.call('TIME')[1])
local clock = redis.call('HMGET', key.throughput_clock, 'second', 'sales', 'owes_zero')
local open_second = tonumber(clock[1])
if open_second == nil then
  -- First call ever (or the clock was lost): open the current second.
  redis.call('HSET', key.throughput_clock, 'second', now, 'sales', applied, 'owes_zero', 0)
elseif now <= open_second then
  -- Still in the open second (or the clock stepped back): count into it.
  if applied > 0 then redis.call('HINCRBY', key.throughput_clock, 'sales', applied) end
else
  -- The open second is over: write it if it was busy, or if it is the idle second after a busy one.
  local sales = tonumber(clock[2]) or 0
  local owes_zero = false
  if sales > 0 then
    write_second(open_second, sales)
    if now > open_second + 1 then
      write_second(open_second + 1, 0)  -- the second after it passed with no call at all: it was idle
    else
      owes_zero = true  -- the second after it is `now`, still open: write it when it closes, even at 0
    end
  elseif tonumber(clock[3]) == 1 then
    write_second(open_second, 0)
  end
  redis.call('HSET', key.throughput_clock, 'second', now, 'sales', applied, 'owes_zero', owes_zero and 1 or 0)
end

return {applied, skipped, {}}

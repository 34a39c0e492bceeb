-- Applies one batch of sales to the aggregates, atomically, exactly once per sale id.
-- Called by blackfriday.consumer.store.Store (key names come from blackfriday.keys).
-- With no sales it only closes the throughput second (the consumer's idle tick).
--
-- Every category keeps its first product seen and that product's price history, so the dashboard's
-- focus category can change at any time without losing history.
--
-- KEYS  1 sales total        2 price max           3 price min         4 products units (zset)
--       5 category sales     6 category units      7 category price cents
--       8 category avg units 9 category avg price  10 throughput (stream) 11 throughput current (hash)
--       12..15 tracked product, by category 1..4       16..19 tracked product's prices (stream), by category
--       20..23 products units (zset), by category 1..4
-- ARGV  1 dedup key prefix   2 dedup bucket ms     3 dedup ttl seconds
--       4 price history cap  5 throughput history cap   6..9 category names, by category 1..4
--       10.. six fields per sale: id, accepted_at_ms, category (1-4), product id, price cents, quantity
-- Returns {applied, duplicates}.

local dedup_prefix = ARGV[1]
local bucket_ms = tonumber(ARGV[2])
local dedup_ttl = tonumber(ARGV[3])
local price_cap = tonumber(ARGV[4])
local throughput_cap = tonumber(ARGV[5])
local names = {ARGV[6], ARGV[7], ARGV[8], ARGV[9]}
local FIRST_SALE = 10
local TRACKED, PRICES, PRODUCTS = 11, 15, 19  -- KEYS[base + category]
local FIELDS = 6

local function money(cents)
  return string.format('%d.%02d', math.floor(cents / 100), cents % 100)
end

local function cents_of(text)
  return math.floor(tonumber(text) * 100 + 0.5)
end

local applied, duplicates = 0, 0
local cat_sales, cat_units, cat_cents, cat_products = {}, {}, {}, {}
local product_units = {}
local max_cents, min_cents = nil, nil
local expiring = {}
local tracked = {}  -- category -> tracked product (false until one is seen), read once per batch

for base = FIRST_SALE, #ARGV, FIELDS do
  local id = ARGV[base]
  local accepted = tonumber(ARGV[base + 1])
  local cat = tonumber(ARGV[base + 2])
  local product = ARGV[base + 3]
  local cents = tonumber(ARGV[base + 4])
  local quantity = tonumber(ARGV[base + 5])

  local bucket = math.floor(accepted / bucket_ms)
  local dedup_key = dedup_prefix .. string.format('%d', bucket)
  if redis.call('SADD', dedup_key, id) == 1 then
    if not expiring[dedup_key] then
      redis.call('EXPIREAT', dedup_key, string.format('%d', (bucket + 1) * bucket_ms / 1000 + dedup_ttl))
      expiring[dedup_key] = true
    end
    applied = applied + 1
    cat_sales[cat] = (cat_sales[cat] or 0) + 1
    cat_units[cat] = (cat_units[cat] or 0) + quantity
    cat_cents[cat] = (cat_cents[cat] or 0) + cents
    product_units[product] = (product_units[product] or 0) + quantity
    cat_products[cat] = cat_products[cat] or {}
    cat_products[cat][product] = (cat_products[cat][product] or 0) + quantity
    if max_cents == nil or cents > max_cents then max_cents = cents end
    if min_cents == nil or cents < min_cents then min_cents = cents end
    if tracked[cat] == nil then
      tracked[cat] = redis.call('GET', KEYS[TRACKED + cat])
    end
    if not tracked[cat] then
      tracked[cat] = product
      redis.call('SET', KEYS[TRACKED + cat], product)
    end
    if product == tracked[cat] then
      redis.call('XADD', KEYS[PRICES + cat], 'MAXLEN', price_cap, '*', 'precio', money(cents), 'sale_id', id)
    end
  else
    duplicates = duplicates + 1
  end
end

if applied > 0 then
  redis.call('INCRBY', KEYS[1], applied)
  for cat, count in pairs(cat_sales) do
    local name = names[cat]
    local sales = redis.call('HINCRBY', KEYS[5], name, count)
    local units = redis.call('HINCRBY', KEYS[6], name, cat_units[cat])
    local price_cents = redis.call('HINCRBY', KEYS[7], name, cat_cents[cat])
    redis.call('HSET', KEYS[8], name, string.format('%.2f', units / sales))
    redis.call('HSET', KEYS[9], name, string.format('%.2f', price_cents / sales / 100))
  end
  for product, units in pairs(product_units) do
    redis.call('ZINCRBY', KEYS[4], units, product)
  end
  for cat, products in pairs(cat_products) do
    for product, units in pairs(products) do
      redis.call('ZINCRBY', KEYS[PRODUCTS + cat], units, product)
    end
  end
  local current_max = redis.call('GET', KEYS[2])
  if not current_max or max_cents > cents_of(current_max) then
    redis.call('SET', KEYS[2], money(max_cents))
  end
  local current_min = redis.call('GET', KEYS[3])
  if not current_min or min_cents < cents_of(current_min) then
    redis.call('SET', KEYS[3], money(min_cents))
  end
end

-- Throughput: one stream entry per wall-clock second (Valkey's clock) holding the sales applied in it,
-- written when the second is over; after a busy second, one zero entry so that graphs fall back to 0.
local function point(sec, count)
  redis.pcall('XADD', KEYS[10], 'MAXLEN', throughput_cap, string.format('%d-0', sec * 1000), 'sales', count)
end
local now = tonumber(redis.call('TIME')[1])
local current = redis.call('HMGET', KEYS[11], 'sec', 'count', 'nz')
local sec = tonumber(current[1])
if sec == nil then
  redis.call('HSET', KEYS[11], 'sec', now, 'count', applied, 'nz', 0)
elseif now <= sec then
  if applied > 0 then redis.call('HINCRBY', KEYS[11], 'count', applied) end
else
  local count = tonumber(current[2]) or 0
  local nonzero = tonumber(current[3]) or 0
  if count > 0 or nonzero == 1 then
    point(sec, count)
    nonzero = 0
    if count > 0 then
      if now > sec + 1 then point(sec + 1, 0) else nonzero = 1 end
    end
  end
  redis.call('HSET', KEYS[11], 'sec', now, 'count', applied, 'nz', nonzero)
end

return {applied, duplicates}

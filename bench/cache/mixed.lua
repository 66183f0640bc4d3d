-- A mixed product workload for wrk: each request asks the web product page of a product
-- drawn from the first 30, so pages differ while the entities under them overlap.
local query = "query Page($id: ID!) { product(id: $id) { id name priceCents inStock reviewCount reviews(first: 3) { rating author { name } } } }"
wrk.method = "POST"
wrk.headers["content-type"] = "application/json"
local counter = 0
request = function()
  counter = counter + 1
  local id = ((counter * 7919) % 30) + 1
  local body = '{"query":"' .. query .. '","variables":{"id":"' .. id .. '"}}'
  return wrk.format(nil, nil, nil, body)
end

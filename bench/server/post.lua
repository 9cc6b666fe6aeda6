-- wrk script for scripts/bench-server: POSTs the body in the file named by $BENCH_BODY
-- (a JSON {"report": BASE64} sealed to the instance's recipients) as application/json,
-- on keep-alive connections, and counts the answers by status and the connections the
-- server asked to close, so that a run that did not get 201 (or lost keep-alive) says so.
local path = os.getenv("BENCH_BODY")
local file = assert(io.open(path or "", "rb"), "BENCH_BODY must name the request body file")
wrk.method = "POST"
wrk.body = file:read("*a")
file:close()
wrk.headers["Content-Type"] = "application/json"

local threads = {}

function setup(thread)
  table.insert(threads, thread)
end

function init(args)
  statuses = {}
  closes = 0
end

function response(status, headers, body)
  statuses[status] = (statuses[status] or 0) + 1
  local connection = headers["Connection"] or headers["connection"]
  if connection and connection:lower() == "close" then closes = closes + 1 end
end

function done(summary, latency, requests)
  local totals, closed = {}, 0
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses")) do totals[status] = (totals[status] or 0) + n end
    closed = closed + thread:get("closes")
  end
  local parts = {}
  for status, n in pairs(totals) do table.insert(parts, status .. "=" .. n) end
  table.sort(parts)
  io.write(string.format("bench-statuses: %s\nbench-connection-close: %d\n",
                         table.concat(parts, " "), closed))
end

-- POST /addresses with a body from a template file; every "#######" in it becomes a 7-digit
-- sequence number, so bodies stay the same size and entries stay distinguishable.
-- Usage: wrk -s post.lua http://host:port -- template.json

local template
local seq = 0

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open the body template")
  template = file:read("*a")
  file:close()
end

function request()
  seq = seq + 1
  local body = template:gsub("#######", string.format("%07d", seq % 10000000))
  return wrk.format("POST", "/addresses", { ["Content-Type"] = "application/json" }, body)
end

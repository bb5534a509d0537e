-- GET /addresses/{id} for ids drawn at random from a file of existing ids, one a line.
-- Usage: wrk -s random-id.lua http://host:port -- ids.txt ["Authorization header value"]

local ids = {}

function init(args)
  local file = assert(io.open(args[1], "r"), "cannot open the ids file")
  for line in file:lines() do
    if #line > 0 then
      ids[#ids + 1] = "/addresses/" .. line
    end
  end
  file:close()
  assert(#ids > 0, "the ids file is empty")
  if args[2] then
    wrk.headers["Authorization"] = args[2]
  end
  -- Each wrk thread draws its own sequence.
  math.randomseed(os.time() + tonumber(tostring(ids):match("0x(%x+)") or "0", 16))
end

function request()
  return wrk.format("GET", ids[math.random(#ids)])
end

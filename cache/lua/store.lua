-- Store one cache entry in its stage's current generation.
-- KEYS[1]  the stage's generation key   sluice:cache:{api:stage}:g
-- KEYS[2]  the entry key                 sluice:cache:{api:stage}:e:<key>
-- ARGV[1]  the encoded entry (bytes)
-- ARGV[2]  TTL in milliseconds
-- ARGV[3]  a fresh 16-character generation, used only when the stage has none yet
-- The stored value is the 16-character generation followed by ARGV[1]. Both keys carry the
-- stage's hash tag, so they share a Redis Cluster slot. Returns 1.
local gen = redis.call('GET', KEYS[1])
if not gen then
  gen = ARGV[3]
  redis.call('SET', KEYS[1], gen)
end
-- SET then APPEND keeps the body out of a Lua string concatenation (one copy fewer of up to
-- 1 MiB); APPEND keeps the TTL that SET gave.
redis.call('SET', KEYS[2], gen, 'PX', ARGV[2])
redis.call('APPEND', KEYS[2], ARGV[1])
return 1

-- workflow.lua: the atomic join of a workflow run (submit, node done, node failed, map expand).
--
-- KEYS (one slot, hash tag {wf:<id>}):
--   KEYS[1] nodes     hash  node id -> run record (JSON; RunRecord in runtime/workflows/plan.py
--                           is its one definition: t task id, q queue, s stream, dk delayed set,
--                           p priority, cd countdown, eta, h envelope head (message.py's fields
--                           up to "kwargs"), kw/ra static arguments, ki keyword inputs, succ,
--                           le errbacks, imm, in prepend|collect|items|none with pp/co/it,
--                           cb: an immutable chord body)
--   KEYS[2] pending   hash  node id -> parents not yet done; "<map>#n", "<map>#left";
--                           publish=worker: "<node>#by" -> the parent whose completion made
--                           the node ready (only its duplicates re-offer the node)
--   KEYS[3] results   hash  node id -> result JSON; "<map>#<i>" -> instance result JSON
--   KEYS[4] state     hash  node id -> PENDING | QUEUED | RUNNING | SUCCESS | FAILURE | SKIPPED
--   KEYS[5] meta      hash  status, left, ttl, on_error (JSON list), failed_node, fired:<eb>
--   KEYS[6] errbacks  hash  errback id -> run record (JSON)
--
-- Every operation replies with the same seven items (runtime/redis/workflow_store.py names
-- them, JoinReply): {applied 0|1, finished 0|1, map task id or "", map result JSON or "",
-- claimed {key, id, fields, ...}, skipped {task id, ...}, ready {queue, priority, due, body,
-- ...}}. "ready" is empty unless the run was submitted with the meta field publish=worker
-- (the setting flowc_workflow_publish = "worker"): then this script enqueues nothing itself and
-- returns every message that became ready, for the worker to publish after the join (the
-- path of a backend whose join cannot enqueue: another broker, another Cluster slot). A
-- duplicate join in that mode returns again what it would have published (successors still
-- QUEUED, fired errbacks, map instances), so a worker that died between join and publish
-- loses nothing; a message's id is its node's task id, so a duplicate runs at most again and
-- its completion is a no-op.
--
-- ARGV[1] is the operation:
--   submit  ARGV: ttl, on_error_json, x, (meta field, value)*x, n, (node id, record)*n,
--                 m, (node id, pending)*m, r, (root id, stream key, body)*r,
--                 e, (errback id, record)*e
--           (a root's stream key and body are "" when it waits for a countdown/eta: its record
--           is enqueued as on any other path; else the body, built by the caller exactly as
--           envelope() would, is XADDed as is)
--           -> applied 1 if stored and roots enqueued, 0 if the workflow id already exists
--   done    ARGV: node id, instance index or "", result JSON
--                 [, group, consumer, count, wake group, a, (stream key, entry id)*a,
--                  (stream key)*]
--           With the claim arguments (the finishing worker's acks and next fetch, folded into
--           this step), the a entries are acknowledged (XACK + XDEL, as the worker's pipeline
--           would) and up to count ready messages are then claimed for consumer from the streams,
--           in the given (priority) order, exactly as fetch.lua claims: claimed is its flat
--           key, id, fields list ({} when nothing). A chain's next step, enqueued above, is
--           so claimed by the worker that finished the previous one, in the same atomic step:
--           it sits in that worker's pending list like any claimed message (crash recovery is
--           unchanged), and the wake group of its stream is moved past it so that no idle
--           worker wakes up for it. A claim that finds nothing replies as fetch.lua's idle
--           claim does ({"idle", "-", ...}, the wake groups moved to the end), so the worker
--           waits at once instead of claiming again first.
--   dones   ARGV: n, (node id, result JSON)*n [, the claim arguments of done]
--           -> done for n nodes (not map instances) of one run in one call, as a worker
--              settles a batch of them (applied if any was)
--   fail    ARGV: node id, instance index or "", exception JSON, traceback JSON string,
--                 failed task id[, ChordError JSON]
--           -> skipped: task ids to record as failed (the map's own task when an instance
--              failed, then every skipped dependent; a skipped chord body, a node that
--              collects its parents' results, as "chord:<task id>"). Fires the failed node's
--              errbacks and the run's on_error, then each skipped chord body's own errbacks
--              with the body's task id and the ChordError, each errback id once per run.
--              Only dependents are skipped: the run's status becomes FAILURE, but branches
--              the failure does not reach go on (done enqueues unless the run is REVOKED).
--   resume  ARGV: n, (node id, parents left)*n, r, (ready node id)*r
--           -> applied = number of nodes reset; resets failed/skipped nodes and enqueues the
--              ready ones
--   expand  ARGV: node id, n, (instance body)*n
--
-- Ready successors are enqueued here, in the same step that records their last parent's
-- result: XADD to their priority stream, or ZADD to the queue's delayed set when the step has a
-- countdown/eta. Stream and delayed keys come from the run records and live in other slots,
-- so on a Redis Cluster runs are submitted with publish=worker and this script touches only
-- KEYS (the run's slot). Every operation is idempotent: a redelivered task that completes
-- twice changes nothing the second time.

local K_NODES, K_PENDING, K_RESULTS, K_STATE, K_META, K_ERRBACKS =
  KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], KEYS[6]

local TERMINAL = {SUCCESS = true, FAILURE = true, SKIPPED = true}

local function now()
  local t = redis.call('TIME')
  return tonumber(t[1]) + tonumber(t[2]) / 1000000
end

local function record(node_id)
  return cjson.decode(redis.call('HGET', K_NODES, node_id))
end

local function incoming(rec)
  local how = rec['in']
  if how == 'prepend' then
    return redis.call('HGET', K_RESULTS, rec.pp)
  elseif how == 'collect' then
    local parts = {}
    for i, token in ipairs(rec.co) do
      if string.sub(token, 1, 1) == '@' then
        parts[i] = redis.call('HGET', K_RESULTS, string.sub(token, 2))
      else
        parts[i] = token
      end
    end
    return table.concat(parts)
  elseif how == 'items' then
    return rec.it
  end
  return nil
end

local function envelope(rec, extra)
  local kw = rec.kw
  for _, pair in ipairs(rec.ki) do
    local value = redis.call('HGET', K_RESULTS, pair[2])
    local item = cjson.encode(pair[1]) .. ':' .. value
    if kw == '' then kw = item else kw = item .. ',' .. kw end
  end
  local args = rec.ra
  local inc = incoming(rec)
  if inc then
    if args == '' then args = inc else args = inc .. ',' .. args end
  end
  return rec.h .. (extra or '') .. ',"kwargs":{' .. kw .. '},"args":[' .. args .. ']}'
end

local xadded = {}  -- stream key -> id of the last entry this call added to it
local ready = {}   -- publish=worker: queue, priority, due, body of each message made ready
local by_worker = false  -- set per operation from the run's meta (see the header)
local enqueued = 0  -- messages this call made ready

local function enqueue(rec, body)
  local due = 0
  if rec.eta and rec.eta > 0 then due = rec.eta end
  if rec.cd and rec.cd > 0 then due = now() + rec.cd end
  enqueued = enqueued + 1
  if by_worker then
    if not (due > now()) then due = 0 end
    ready[#ready + 1] = rec.q
    ready[#ready + 1] = rec.p
    ready[#ready + 1] = tostring(due)
    ready[#ready + 1] = body
  elseif due > 0 and due > now() then
    redis.call('ZADD', rec.dk, due, tostring(rec.p) .. 'j' .. body)
  else
    xadded[rec.s] = redis.call('XADD', rec.s, '*', 'b', body, 'c', 'j')
  end
end

local function reply(applied, finished, map_task, map_result, claimed, skipped)
  return {applied, finished, map_task or '', map_result or '', claimed or {}, skipped or {},
          ready}
end

-- #include _claim

-- The claim folded into a done step (see the header), with the wake group moved past every
-- stream whose newest entry, added by this call, was claimed (so all before it were, too).
local function claim_after(first)
  local group = ARGV[first]
  local acks = tonumber(ARGV[first + 4])
  for j = first + 5, first + 4 + 2 * acks, 2 do
    redis.call('XACK', ARGV[j], group, ARGV[j + 1])
    redis.call('XDEL', ARGV[j], ARGV[j + 1])
  end
  local keys = {}
  for j = first + 5 + 2 * acks, #ARGV do keys[#keys + 1] = ARGV[j] end
  -- Siblings made ready together (a fan-out) are not all taken by the finishing worker: it
  -- claims one, and the rest wake idle workers, so independent steps run in parallel.
  local want = tonumber(ARGV[first + 2])
  if enqueued > 1 then want = 1 end
  local out = claim(group, ARGV[first + 1], want, keys)
  local wake = ARGV[first + 3]
  if #out == 0 then
    -- Nothing is unclaimed in the worker's streams: as fetch.lua's idle reply, move their wake
    -- groups to the end and say so, and the worker goes straight to its wait (no second claim).
    local idle = {'idle'}
    for i, key in ipairs(keys) do
      local res = redis.pcall('XGROUP', 'SETID', key, wake, '$')
      if type(res) == 'table' and res.err then
        redis.pcall('XGROUP', 'CREATE', key, wake, '$', 'MKSTREAM')
      end
      idle[i + 1] = '-'
    end
    return idle
  end
  for j = 2, #out, 3 do
    local key = out[j - 1]
    if xadded[key] == out[j] then redis.pcall('XGROUP', 'SETID', key, wake, out[j]) end
  end
  return out
end

local function finish_if_done(left)
  if left > 0 then return 0 end
  if redis.call('HGET', K_META, 'status') == 'RUNNING' then
    redis.call('HSET', K_META, 'status', 'SUCCESS')
  end
  redis.call('HSET', K_META, 'finished', tostring(now()))
  local ttl = tonumber(redis.call('HGET', K_META, 'ttl') or '0')
  if ttl and ttl > 0 then
    for _, key in ipairs(KEYS) do redis.call('EXPIRE', key, ttl) end
  end
  return 1
end

local function complete(node_id, result)
  redis.call('HSET', K_RESULTS, node_id, result)
  redis.call('HSET', K_STATE, node_id, 'SUCCESS')
  local rec = record(node_id)
  -- a failed run goes on where the failure does not reach (its dependents were skipped), as
  -- Celery's independent tasks do; only a revoked run enqueues nothing new
  local going = redis.call('HGET', K_META, 'status') ~= 'REVOKED'
  for _, succ in ipairs(rec.succ) do
    if redis.call('HINCRBY', K_PENDING, succ, -1) == 0 and going then
      local srec = record(succ)
      enqueue(srec, envelope(srec))
      redis.call('HSET', K_STATE, succ, 'QUEUED')
      if by_worker then redis.call('HSET', K_PENDING, succ .. '#by', node_id) end
    end
  end
  return finish_if_done(redis.call('HINCRBY', K_META, 'left', -1))
end

local function is_terminal(node_id)
  local state = redis.call('HGET', K_STATE, node_id)
  return state and TERMINAL[state]
end

local op = ARGV[1]

-- HSET key with ARGV[first .. first + 2 * pairs - 1] as field/value pairs, a bounded number of
-- pairs per call (unpack() is limited by Lua's C stack).
local function hset_pairs(key, first, pairs)
  local last = first + 2 * pairs - 1
  local i = first
  while i <= last do
    local upto = math.min(last, i + 3999)
    redis.call('HSET', key, unpack(ARGV, i, upto))
    i = upto + 1
  end
end

-- HSET key field value for each field in the list, a bounded number per call.
local function hset_all(key, fields, value)
  local args = {}
  for _, f in ipairs(fields) do
    args[#args + 1] = f
    args[#args + 1] = value
    if #args >= 4000 then redis.call('HSET', key, unpack(args)); args = {} end
  end
  if #args > 0 then redis.call('HSET', key, unpack(args)) end
end

if op == 'submit' then
  if redis.call('EXISTS', K_META) == 1 then return reply(0, 0) end
  local i = 4
  local x = tonumber(ARGV[i]); i = i + 1
  if x > 0 then hset_pairs(K_META, i, x) end
  i = i + 2 * x
  by_worker = redis.call('HGET', K_META, 'publish') == 'worker'
  local n = tonumber(ARGV[i]); i = i + 1
  if n > 0 then
    hset_pairs(K_NODES, i, n)
    local ids = {}
    for j = 0, n - 1 do ids[j + 1] = ARGV[i + 2 * j] end
    hset_all(K_STATE, ids, 'PENDING')
  end
  i = i + 2 * n
  local m = tonumber(ARGV[i]); i = i + 1
  if m > 0 then hset_pairs(K_PENDING, i, m) end
  i = i + 2 * m
  redis.call('HSET', K_META, 'status', 'RUNNING', 'left', n, 'ttl', ARGV[2],
             'on_error', ARGV[3], 'created', tostring(now()))
  local r = tonumber(ARGV[i]); i = i + 1
  local roots = {}
  for _ = 1, r do
    roots[#roots + 1] = {ARGV[i], ARGV[i + 1], ARGV[i + 2]}; i = i + 3
  end
  local e = tonumber(ARGV[i]); i = i + 1
  if e > 0 then hset_pairs(K_ERRBACKS, i, e) end
  local queued = {}
  for _, root in ipairs(roots) do
    if root[2] == '' or by_worker then
      local rec = record(root[1])
      if root[2] == '' then enqueue(rec, envelope(rec)) else enqueue(rec, root[3]) end
    else
      redis.call('XADD', root[2], '*', 'b', root[3], 'c', 'j')
    end
    queued[#queued + 1] = root[1]
  end
  hset_all(K_STATE, queued, 'QUEUED')
  if n == 0 then finish_if_done(0) end
  return reply(1, 0)
end

by_worker = redis.call('HGET', K_META, 'publish') == 'worker'

if op == 'resume' then
  local i = 2
  local n = tonumber(ARGV[i]); i = i + 1
  for _ = 1, n do
    local nid, left = ARGV[i], tonumber(ARGV[i + 1]); i = i + 2
    local count = tonumber(redis.call('HGET', K_PENDING, nid .. '#n') or '0')
    for j = 0, count - 1 do redis.call('HDEL', K_RESULTS, nid .. '#' .. j) end
    redis.call('HDEL', K_PENDING, nid .. '#n', nid .. '#left', nid .. '#by')
    redis.call('HDEL', K_RESULTS, nid)
    redis.call('HSET', K_STATE, nid, 'PENDING')
    if left > 0 then redis.call('HSET', K_PENDING, nid, left) else redis.call('HDEL', K_PENDING, nid) end
  end
  redis.call('HINCRBY', K_META, 'left', n)
  redis.call('HSET', K_META, 'status', 'RUNNING')
  redis.call('HDEL', K_META, 'failed_node', 'failed_task', 'exc', 'tb', 'finished')
  for _, key in ipairs(KEYS) do redis.call('PERSIST', key) end
  local r = tonumber(ARGV[i]); i = i + 1
  for _ = 1, r do
    local rec = record(ARGV[i]); i = i + 1
    enqueue(rec, envelope(rec))
    redis.call('HSET', K_STATE, ARGV[i - 1], 'QUEUED')
  end
  return reply(n, 0)
end

local node_id = ARGV[2]

-- A run whose keys are gone (its result TTL passed after it finished) takes no more joins: a
-- late duplicate of one of its steps is a no-op, and must not re-create keys without a TTL.
local function gone()
  return redis.call('EXISTS', K_META) == 0
end

-- publish=worker: a duplicate completion of a node re-offers its successors that are still
-- QUEUED and that this node made ready (pending field "<succ>#by"): their publish may have died
-- with the worker that made them ready. Duplicates of a chord's other members published
-- nothing, so they re-offer nothing (a failover that redelivered 77 members ran the body 27
-- times when every duplicate re-offered it).
local function reoffer_successors(nid)
  if not by_worker or redis.call('HGET', K_STATE, nid) ~= 'SUCCESS' then return end
  for _, succ in ipairs(record(nid).succ) do
    local by = redis.call('HGET', K_PENDING, succ .. '#by')
    if redis.call('HGET', K_STATE, succ) == 'QUEUED' and (not by or by == nid) then
      local srec = record(succ)
      enqueue(srec, envelope(srec))
    end
  end
end

local function done()
  if gone() then return reply(0, 0) end
  if is_terminal(node_id) then reoffer_successors(node_id); return reply(0, 0) end
  local index = ARGV[3]
  if index == '' then
    return reply(1, complete(node_id, ARGV[4]))
  end
  if redis.call('HSETNX', K_RESULTS, node_id .. '#' .. index, ARGV[4]) == 0 then
    return reply(0, 0)
  end
  if redis.call('HINCRBY', K_PENDING, node_id .. '#left', -1) > 0 then return reply(1, 0) end
  local count = tonumber(redis.call('HGET', K_PENDING, node_id .. '#n'))
  local fields = {}
  for j = 1, count do fields[j] = node_id .. '#' .. (j - 1) end
  local values = redis.call('HMGET', K_RESULTS, unpack(fields))
  local result = '[' .. table.concat(values, ',') .. ']'
  return reply(1, complete(node_id, result), record(node_id).t, result)
end

if op == 'done' then
  local out = done()
  if #ARGV > 4 then out[5] = claim_after(5) end
  return out
end

if op == 'dones' then
  local n = tonumber(ARGV[2])
  local out = reply(0, 0)
  if gone() then n = 0 end
  for j = 3, 2 + 2 * n, 2 do
    if not is_terminal(ARGV[j]) then
      out[1] = 1
      if complete(ARGV[j], ARGV[j + 1]) == 1 then out[2] = 1 end
    else
      reoffer_successors(ARGV[j])
    end
  end
  n = tonumber(ARGV[2])
  if #ARGV > 2 + 2 * n then out[5] = claim_after(3 + 2 * n) end
  return out
end

if op == 'expand' then
  if is_terminal(node_id) or gone() then
    reoffer_successors(node_id)
    return reply(0, 0)
  end
  local count = tonumber(ARGV[3])
  local rec = record(node_id)
  if redis.call('HSETNX', K_PENDING, node_id .. '#n', count) == 0 then
    -- publish=worker: offer the instances again (same ids: a duplicate's completion is a
    -- no-op); the first expand's publish may have died with its worker
    if by_worker then
      for j = 1, count do enqueue(rec, ARGV[3 + j]) end
    end
    return reply(0, 0)
  end
  redis.call('HSET', K_PENDING, node_id .. '#left', count)
  if count == 0 then
    return reply(1, complete(node_id, '[]'), rec.t, '[]')
  end
  for j = 1, count do
    if by_worker then enqueue(rec, ARGV[3 + j])
    else redis.call('XADD', rec.s, '*', 'b', ARGV[3 + j], 'c', 'j') end
  end
  redis.call('HSET', K_STATE, node_id, 'RUNNING')
  return reply(1, 0)
end

local function errback_header(failed_task, exc_json, tb_json)
  return ',"headers":{"errback":{"task_id":' .. cjson.encode(failed_task) ..
         ',"exc":' .. exc_json .. ',"traceback":' .. tb_json .. '}}'
end

-- an immutable errback (si) is called with its own arguments only, as in Celery
local function errback_body(erec, extra)
  if erec.imm then return envelope(erec) end
  return envelope(erec, extra)
end

local function handlers_of(rec)
  local handlers = {}
  for _, eb in ipairs(rec.le) do handlers[#handlers + 1] = eb end
  for _, eb in ipairs(cjson.decode(redis.call('HGET', K_META, 'on_error') or '[]')) do
    handlers[#handlers + 1] = eb
  end
  return handlers
end

if op == 'fail' then
  if gone() then return reply(0, 0) end
  if is_terminal(node_id) then
    -- publish=worker: a duplicate of the failure that fired the errbacks offers them again
    if by_worker and redis.call('HGET', K_META, 'failed_node') == node_id then
      local extra = errback_header(redis.call('HGET', K_META, 'failed_task'),
                                   redis.call('HGET', K_META, 'exc'),
                                   redis.call('HGET', K_META, 'tb') or '""')
      for _, eb in ipairs(handlers_of(record(node_id))) do
        if redis.call('HGET', K_META, 'fired:' .. eb) then
          local erec = cjson.decode(redis.call('HGET', K_ERRBACKS, eb))
          enqueue(erec, errback_body(erec, extra))
        end
      end
      -- and those its skipped chord bodies fired (a body skipped by this failure is SKIPPED)
      local queue, seen, head = {}, {}, 1
      for _, s in ipairs(record(node_id).succ) do queue[#queue + 1] = s end
      while head <= #queue do
        local succ = queue[head]; head = head + 1
        if not seen[succ] and redis.call('HGET', K_STATE, succ) == 'SKIPPED' then
          seen[succ] = true
          local srec = record(succ)
          if srec['in'] == 'collect' or srec.cb then
            local body_extra = errback_header(srec.t, ARGV[7] or redis.call('HGET', K_META, 'exc'),
                                              redis.call('HGET', K_META, 'tb') or '""')
            for _, eb in ipairs(srec.le) do
              if redis.call('HGET', K_META, 'fired:' .. eb) then
                local erec = cjson.decode(redis.call('HGET', K_ERRBACKS, eb))
                enqueue(erec, errback_body(erec, body_extra))
              end
            end
          end
          for _, s in ipairs(srec.succ) do queue[#queue + 1] = s end
        end
      end
    end
    return reply(0, 0)
  end
  local exc_json, tb_json, failed_task = ARGV[4], ARGV[5], ARGV[6]
  redis.call('HSET', K_STATE, node_id, 'FAILURE')
  if redis.call('HGET', K_META, 'status') == 'RUNNING' then
    redis.call('HSET', K_META, 'status', 'FAILURE', 'failed_node', node_id,
               'failed_task', failed_task, 'exc', exc_json, 'tb', tb_json)
  end
  local left = redis.call('HINCRBY', K_META, 'left', -1)
  local skipped = {}
  local rec = record(node_id)
  if ARGV[3] ~= '' then skipped[#skipped + 1] = rec.t end  -- a map instance failed: so did its map
  local queue = {}
  local bodies = {}  -- skipped chord bodies: their own errbacks fire, as the body's
  for _, s in ipairs(rec.succ) do queue[#queue + 1] = s end
  local head = 1
  while head <= #queue do
    local succ = queue[head]; head = head + 1
    if not is_terminal(succ) then
      redis.call('HSET', K_STATE, succ, 'SKIPPED')
      left = redis.call('HINCRBY', K_META, 'left', -1)
      local srec = record(succ)
      -- a skipped chord body (collect, or cb) is reported as "chord:<task id>" (ChordError)
      if srec['in'] == 'collect' or srec.cb then
        skipped[#skipped + 1] = 'chord:' .. srec.t
        bodies[#bodies + 1] = srec
      else skipped[#skipped + 1] = srec.t end
      for _, s in ipairs(srec.succ) do queue[#queue + 1] = s end
    end
  end
  local extra = errback_header(failed_task, exc_json, tb_json)
  for _, eb in ipairs(handlers_of(rec)) do
    if redis.call('HSETNX', K_META, 'fired:' .. eb, 1) == 1 then
      local erec = cjson.decode(redis.call('HGET', K_ERRBACKS, eb))
      enqueue(erec, errback_body(erec, extra))
    end
  end
  -- Celery's chord_error_from_stack: a chord body that cannot run calls its errbacks with its
  -- own task id and the ChordError (ARGV[7]; the failure's exception when not given)
  for _, body in ipairs(bodies) do
    local body_extra = errback_header(body.t, ARGV[7] or exc_json, tb_json)
    for _, eb in ipairs(body.le) do
      if redis.call('HSETNX', K_META, 'fired:' .. eb, 1) == 1 then
        local erec = cjson.decode(redis.call('HGET', K_ERRBACKS, eb))
        enqueue(erec, errback_body(erec, body_extra))
      end
    end
  end
  return reply(1, finish_if_done(left), '', '', {}, skipped)
end

return redis.error_reply('workflow.lua: unknown operation ' .. tostring(op))

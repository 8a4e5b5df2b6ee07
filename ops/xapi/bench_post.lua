-- wrk script: POST one new xAPI statement per request (a fresh UUID each, so
-- every request is a real durable write, not an idempotent replay).
local counter = 0
local thread_id = 0
function setup(thread)
  thread:set("tid", thread_id)
  thread_id = thread_id + 1
end
function init(args)
  math.randomseed(os.time() + tid * 7919)
end
local template = '{"id":"%s","actor":{"objectType":"Agent","account":{"homePage":"https://id.dongcheng.gov.cn","name":"u%06d"}},' ..
  '"verb":{"id":"http://adlnet.gov/expapi/verbs/attended","display":{"en-US":"attended"}},' ..
  '"object":{"objectType":"Activity","id":"https://lifelong.dongcheng.edu.cn/courses/c%05d",' ..
  '"definition":{"name":{"zh-CN":"智能手机与数字生活（入门）"}}},' ..
  '"context":{"platform":"kiosk","extensions":{"https://lifelong.dongcheng.edu.cn/xapi/ext/xuequ":"和平里学区"}},' ..
  '"timestamp":"2026-11-28T10:00:00+08:00"}'
local function uuid()
  local hex = "0123456789abcdef"
  local t = {}
  for i = 1, 32 do
    local r = math.random(1, 16)
    t[i] = hex:sub(r, r)
  end
  t[13] = "4"
  t[17] = "8"
  local s = table.concat(t)
  return s:sub(1, 8) .. "-" .. s:sub(9, 12) .. "-" .. s:sub(13, 16) .. "-" .. s:sub(17, 20) .. "-" .. s:sub(21, 32)
end
request = function()
  counter = counter + 1
  local body = string.format(template, uuid(), math.random(1, 10000), math.random(1, 3000))
  return wrk.format("POST", "/xapi/statements", {
    ["Content-Type"] = "application/json",
    ["X-Experience-API-Version"] = "2.0.0",
    ["Authorization"] = "Basic bGlmZWxvbmc6bGlmZWxvbmctZGV2",
  }, body)
end

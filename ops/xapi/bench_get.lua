-- wrk script: GET the latest 50 statements of a random learner over xAPI.
function init(args)
  math.randomseed(os.time())
end
request = function()
  local agent = string.format(
    '%%7B%%22account%%22%%3A%%7B%%22homePage%%22%%3A%%22https%%3A%%2F%%2Fid.dongcheng.gov.cn%%22%%2C%%22name%%22%%3A%%22u%06d%%22%%7D%%7D',
    math.random(1, 10000))
  return wrk.format("GET", "/xapi/statements?limit=50&agent=" .. agent, {
    ["X-Experience-API-Version"] = "2.0.0",
    ["Authorization"] = "Basic bGlmZWxvbmc6bGlmZWxvbmctZGV2",
  })
end

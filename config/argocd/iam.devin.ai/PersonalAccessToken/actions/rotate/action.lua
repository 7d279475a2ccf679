-- Rotate: ask token-operator for a new token now. Any new value of the annotation
-- iam.devin.ai/rotate rotates once; the value is the time of the request in UTC, as
-- `kubectl rollout restart` stamps restartedAt. Argo CD's sandbox offers os through require.
local os = require("os")
local key = "iam.devin.ai/rotate"
if obj.metadata.annotations == nil then
  obj.metadata.annotations = {}
end
local value = os.date("!%Y-%m-%dT%H:%M:%SZ")
if obj.metadata.annotations[key] == value then
  -- A second request within the same second must still change the value.
  value = value .. "-2"
end
obj.metadata.annotations[key] = value
return obj

-- Health of a token-operator ClusterDevinAccount (iam.devin.ai/v1alpha1): whether the operator can act
-- with the account's credential. Ready is True when the credential is a live service user's
-- API key, Reconciling is True while the Devin API cannot be asked, Stalled is True when only a
-- change of the spec, of the Secret or of the upstream account helps, and
-- status.observedGeneration says which generation the conditions describe. ExpiringSoon warns
-- that the service user nears its own expiry: still Healthy, and the message says it.
-- Written for Argo CD's sandbox: only the base, table and package libraries (no string, no math).

local function condition(conditionType)
  if obj.status == nil or obj.status.conditions == nil then
    return nil
  end
  for _, c in ipairs(obj.status.conditions) do
    if c.type == conditionType then
      return c
    end
  end
  return nil
end

local function isTrue(c)
  return c ~= nil and c.status == "True"
end

-- "Reason: message", the way `kubectl describe` users read conditions.
local function describe(c)
  local text = c.reason or ""
  if c.message ~= nil and c.message ~= "" then
    if text ~= "" then
      text = text .. ": "
    end
    text = text .. c.message
  end
  return text
end

local generation = obj.metadata.generation
local observed = nil
if obj.status ~= nil then
  observed = obj.status.observedGeneration
end
if generation ~= nil and observed ~= generation then
  return {status = "Progressing", message = "waiting for the controller to observe generation " .. generation}
end

local ready = condition("Ready")
local stalled = condition("Stalled")

if isTrue(stalled) then
  return {status = "Degraded", message = describe(stalled)}
end

if isTrue(ready) then
  local message = ready.message or ""
  local expiring = condition("ExpiringSoon")
  if isTrue(expiring) then
    message = message .. "; ExpiringSoon: " .. (expiring.message or "the service user expires soon")
  end
  return {status = "Healthy", message = message}
end

local reconciling = condition("Reconciling")
if isTrue(reconciling) then
  return {status = "Progressing", message = describe(reconciling)}
end
if ready ~= nil then
  return {status = "Progressing", message = describe(ready)}
end
return {status = "Progressing", message = "waiting for the operator to report the Ready condition"}

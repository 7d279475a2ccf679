-- Health of a token-operator PersonalAccessToken (iam.devin.ai/v1alpha1).
-- The status follows kstatus: Ready summarises, Reconciling is True while the operator works,
-- Stalled is True when only a change of the spec or of the upstream account helps, and
-- status.observedGeneration says which generation the conditions describe.
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
local reconciling = condition("Reconciling")
local stalled = condition("Stalled")

if obj.metadata.deletionTimestamp ~= nil then
  local why = "waiting for the operator to remove its finalizer (after revoking upstream, unless deletionPolicy is Orphan)"
  if isTrue(stalled) then
    why = describe(stalled)
  elseif ready ~= nil and ready.status ~= "True" then
    why = describe(ready)
  elseif isTrue(reconciling) then
    why = describe(reconciling)
  end
  return {status = "Progressing", message = "being deleted: " .. why}
end

if isTrue(stalled) then
  local message = describe(stalled)
  if isTrue(ready) then
    message = message .. " (the Secret still holds a working token)"
  end
  return {status = "Degraded", message = message}
end

if isTrue(ready) then
  -- Suspended (reason Suspended) stays Healthy: Argo CD would hold a sync wave on a
  -- Suspended resource, and the Secret still holds a working token. The message says so.
  local message = ready.message or ""
  if isTrue(reconciling) then
    message = message .. "; " .. describe(reconciling)
  end
  return {status = "Healthy", message = message}
end

if isTrue(reconciling) then
  return {status = "Progressing", message = describe(reconciling)}
end
if ready ~= nil then
  return {status = "Progressing", message = describe(ready)}
end
return {status = "Progressing", message = "waiting for the operator to report the Ready condition"}

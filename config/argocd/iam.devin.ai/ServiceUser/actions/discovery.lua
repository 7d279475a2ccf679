-- Actions of a token-operator ServiceUser. "rotate" issues a new API key now; the
-- previous one stays valid for spec.apiKey.rotationGracePeriod. It is disabled while the resource
-- is suspended (the operator does not rotate then) or being deleted.
local disabled = obj.metadata.deletionTimestamp ~= nil or (obj.spec ~= nil and obj.spec.suspend == true)
local actions = {}
actions["rotate"] = {
  ["displayName"] = "Rotate API key",
  ["iconClass"] = "fa fa-fw fa-rotate-right",
  ["disabled"] = disabled,
}
return actions

-- Actions of a token-operator PersonalAccessToken. "rotate" issues a new token now; the
-- previous one stays valid for spec.rotationGracePeriod. It is disabled while the resource
-- is suspended (the operator does not rotate then) or being deleted.
local disabled = obj.metadata.deletionTimestamp ~= nil or (obj.spec ~= nil and obj.spec.suspend == true)
local actions = {}
actions["rotate"] = {
  ["displayName"] = "Rotate token",
  ["iconClass"] = "fa fa-fw fa-rotate-right",
  ["disabled"] = disabled,
}
return actions

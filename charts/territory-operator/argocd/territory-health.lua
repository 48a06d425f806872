-- Argo CD health check for sovereign.dev/Territory. Argo CD does not infer a parent's health from
-- its children, so it reads the one aggregated health the operator writes in status.conditions.
-- Install it in the argocd-cm ConfigMap:
--   data:
--     resource.customizations.health.sovereign.dev_Territory: |
--       <this file>
-- Rules (kstatus): a status older than the spec is Progressing; Stalled=True is Degraded;
-- Ready=True is Healthy; Reconciling=True, or no Ready yet, is Progressing; Ready=False otherwise
-- is Degraded, with the operator's reason and message.
local hs = { status = "Progressing", message = "Waiting for the operator to report status" }
if obj.status == nil then
  return hs
end
if obj.metadata ~= nil and obj.metadata.generation ~= nil and obj.status.observedGeneration ~= nil
    and obj.status.observedGeneration < obj.metadata.generation then
  hs.message = "The operator has not yet reconciled the latest spec"
  return hs
end
local ready, reconciling, stalled = nil, nil, nil
if obj.status.conditions ~= nil then
  for _, c in ipairs(obj.status.conditions) do
    if c.type == "Ready" then ready = c end
    if c.type == "Reconciling" then reconciling = c end
    if c.type == "Stalled" then stalled = c end
  end
end
local function describe(c)
  if c.message ~= nil and c.message ~= "" then return c.reason .. ": " .. c.message end
  return c.reason
end
if stalled ~= nil and stalled.status == "True" then
  hs.status = "Degraded"
  hs.message = describe(stalled)
  return hs
end
if ready ~= nil and ready.status == "True" then
  hs.status = "Healthy"
  hs.message = describe(ready)
  return hs
end
if reconciling ~= nil and reconciling.status == "True" then
  hs.message = describe(reconciling)
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
return hs

-- Argo CD health check for sovereign.dev/Territory. Argo CD does not infer a parent's health from
-- its children, so it reads the one aggregated health the operator writes in status.conditions.
-- Install it in the argocd-cm ConfigMap:
--   data:
--     resource.customizations.health.sovereign.dev_Territory: |
--       <this file>
-- Rules (kstatus): a status older than the spec is Progressing; Stalled=True is Degraded;
-- Ready=True is Healthy; Reconciling=True, or no Ready yet, is Progressing; Ready=False otherwise
-- is Degraded, with the operator's reason and message.
-- A Territory being deleted is Progressing: its finalizer is releasing or removing the stack.
local hs = {}

local function find(conditions, kind)
  if conditions == nil then return nil end
  for _, c in ipairs(conditions) do
    if c.type == kind then return c end
  end
  return nil
end

local function describe(c)
  if c == nil then return "" end
  local reason = c.reason or ""
  local message = c.message or ""
  if reason ~= "" and message ~= "" then return reason .. ": " .. message end
  return reason .. message
end

if obj.metadata ~= nil and obj.metadata.deletionTimestamp ~= nil then
  hs.status = "Progressing"
  hs.message = "Territory is being deleted (deletionPolicy decides what is kept)"
  return hs
end

local status = obj.status
if status == nil or status.conditions == nil or #status.conditions == 0 then
  hs.status = "Progressing"
  hs.message = "Waiting for the Territory operator to report"
  return hs
end

local generation = obj.metadata and obj.metadata.generation
if generation ~= nil and (status.observedGeneration == nil or status.observedGeneration < generation) then
  hs.status = "Progressing"
  hs.message = "Waiting for the operator to observe generation " .. tostring(generation)
  return hs
end

local ready = find(status.conditions, "Ready")
local stalled = find(status.conditions, "Stalled")
local reconciling = find(status.conditions, "Reconciling")

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
  hs.status = "Progressing"
  hs.message = describe(reconciling)
  return hs
end
if ready ~= nil and ready.status == "False" then
  hs.status = "Degraded"
  hs.message = describe(ready)
  return hs
end
hs.status = "Progressing"
hs.message = "Waiting for the Ready condition"
return hs

// Evaluates a batch of IAM requests with @cloud-copilot/iam-simulate (tests/iam/evaluator.py).
//
//   node simulate.mjs [BATCH.json]        (default: the batch on stdin)
//
// Batch: {"policySets": [[{name, policy}, ...], ...],
//         "requests": [{policySet, principal, action, resource, accountId, context,
//                       resourcePolicy (optional)}, ...]}
// Prints a JSON array, one result per request, in order:
//   {decision: "Allowed" | "ImplicitlyDenied" | "ExplicitlyDenied" | null, reason,
//    errors: [..] (invalid action, resource, policy: the request was not evaluated),
//    ignoredContextKeys: [..] (keys the action does not take)}
import { runSimulation } from '@cloud-copilot/iam-simulate'
import fs from 'node:fs'

const asList = (x) => (x === undefined ? [] : Array.isArray(x) ? x : [x])

const sid = (s) => s.statement.sid() ?? `#${s.statement.index()}`

function failedConditions(s) {
  return asList(s.explain.conditions)
    .filter((c) => !c.matches)
    .map((c) => {
      const why = c.failedBecauseMissing
        ? 'key absent'
        : c.failedBecauseArray
          ? 'multivalued key needs a set operator'
          : c.unmatchedValues?.length
            ? `unmatched ${JSON.stringify(c.unmatchedValues)}`
            : `expected ${JSON.stringify(asList(c.values).map((v) => v.value))}`
      return `${c.operator} ${c.conditionKeyValue}: ${why}`
    })
}

function reason(analysis) {
  const identity = analysis.identityAnalysis
  if (!identity) return analysis.result
  if (analysis.result !== 'Allowed' && identity.result === 'Allowed') {
    const resource = analysis.resourceAnalysis?.result ?? 'no resource policy'
    const blocked = analysis.blockedBy?.length ? ` (blocked by ${analysis.blockedBy.join(', ')})` : ''
    return `identity policy allows (${identity.allowStatements.map(sid).join(', ')}), resource policy: ${resource}${blocked}`
  }
  if (analysis.result === 'Allowed') {
    return `allowed by ${identity.allowStatements.map(sid).join(', ')}`
  }
  if (analysis.result === 'ExplicitlyDenied') {
    return `explicitly denied by ${identity.denyStatements.map(sid).join(', ')}`
  }
  const near = identity.unmatchedStatements.filter(
    (s) => s.statement.isAllow() && s.actionMatch && s.resourceMatch,
  )
  if (!near.length) return 'no Allow statement names this action on this resource'
  return near.map((s) => `${sid(s)}: ${failedConditions(s).join('; ')}`).join(' | ')
}

function flattenErrors(errors) {
  const out = []
  for (const [kind, value] of Object.entries(errors ?? {})) {
    if (kind === 'message') continue
    if (Array.isArray(value)) out.push(...value.map((v) => `${kind}: ${JSON.stringify(v)}`))
    else if (value && typeof value === 'object') {
      for (const [name, list] of Object.entries(value)) {
        out.push(...asList(list).map((v) => `${kind} ${name}: ${JSON.stringify(v)}`))
      }
    }
  }
  return out.length ? out : [errors?.message ?? 'simulation error']
}

async function simulate(batch, request) {
  const simulation = {
    request: {
      principal: request.principal,
      action: request.action,
      resource: { resource: request.resource, accountId: request.accountId },
      contextVariables: request.context ?? {},
    },
    identityPolicies: batch.policySets[request.policySet],
    serviceControlPolicies: [],
    resourceControlPolicies: [],
    ...(request.resourcePolicy ? { resourcePolicy: request.resourcePolicy } : {}),
  }
  try {
    const r = await runSimulation(simulation, { simulationMode: 'Strict' })
    if (r.resultType === 'error') {
      const where = `${request.action} on ${request.resource}`
      const errors = flattenErrors(r.errors).map((e) => `${e} (${where})`)
      return { decision: null, reason: errors.join('; '), errors, ignoredContextKeys: [] }
    }
    if (r.resultType !== 'single') {
      const msg = `resource ${request.resource} is a pattern (${r.resultType}); name one resource`
      return { decision: null, reason: msg, errors: [msg], ignoredContextKeys: [] }
    }
    return {
      decision: r.result.analysis.result,
      reason: reason(r.result.analysis),
      errors: [],
      ignoredContextKeys: r.result.ignoredContextKeys ?? [],
    }
  } catch (e) {
    return { decision: null, reason: String(e), errors: [String(e)], ignoredContextKeys: [] }
  }
}

const input = fs.readFileSync(process.argv[2] ?? 0, 'utf8')
const batch = JSON.parse(input)
const results = []
for (const request of batch.requests) results.push(await simulate(batch, request))
process.stdout.write(JSON.stringify(results))

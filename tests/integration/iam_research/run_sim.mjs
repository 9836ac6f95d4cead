import { runSimulation } from '@cloud-copilot/iam-simulate'
import fs from 'fs'
const cases = JSON.parse(fs.readFileSync('/tmp/iamtest/cases.json', 'utf8'))
let ok = 0, bad = 0, err = 0; const lines = []
for (const c of cases) {
  const sim = {
    request: { principal: 'arn:aws:iam::123456789012:role/agentocore-fn', action: c.action,
               resource: { resource: c.resource, accountId: '123456789012' }, contextVariables: c.context },
    identityPolicies: [{ name: 'inline', policy: c.policy }],
    serviceControlPolicies: [], resourceControlPolicies: [],
  }
  let got
  try {
    const r = await runSimulation(sim, {})
    if (r.resultType === 'error') got = 'ERR ' + JSON.stringify(r.errors).slice(0, 160)
    else got = r.result.analysis.result === 'Allowed'
    if (process.env.DUMP && c.name === process.env.DUMP) console.log(JSON.stringify(r, null, 1).slice(0, 3000))
  } catch (e) { got = 'ERR ' + String(e).slice(0, 120) }
  let mark
  if (got === c.expected) { ok++; mark = 'ok ' } else if (typeof got === 'string') { err++; mark = 'ERR' } else { bad++; mark = 'BAD' }
  lines.push(`  ${mark} ${c.name.padEnd(30)} expected=${String(c.expected).padEnd(5)} got=${got}`)
}
console.log(`== @cloud-copilot/iam-simulate: ${ok} correct, ${bad} wrong, ${err} errors / ${cases.length}`)
console.log(lines.join('\n'))

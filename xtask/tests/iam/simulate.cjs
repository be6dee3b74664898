// Evaluates requests against IAM identity policies with @cloud-copilot/iam-simulate
// (AWS's authorization data: actions, resource types, condition keys).
//
//   node simulate.cjs SIMULATOR_DIR < {"policies": {ROLE: POLICY}, "requests": [...]}
//
// SIMULATOR_DIR holds node_modules/ as the harness provisions it (KUBE9_IAM_SIMULATE).
// Each request is {role, action, resource, context}; the answer, on stdout, is one
// JSON array with {decision, errors} per request, in order. A request the simulator
// cannot validate (unknown action, a resource the action does not take, a context key
// the action does not know) has decision "Error" and the simulator's messages.
'use strict'

const path = require('node:path')
const { createRequire } = require('node:module')
// Resolve the package as if from SIMULATOR_DIR (honours its `exports`).
const fromSimulator = createRequire(path.join(path.resolve(process.argv[2]), 'package.json'))
const { runSimulation } = fromSimulator('@cloud-copilot/iam-simulate')

const ACCOUNT = '123456789012'

async function main() {
  const chunks = []
  for await (const chunk of process.stdin) chunks.push(chunk)
  const input = JSON.parse(Buffer.concat(chunks).toString('utf8'))
  const answers = []
  for (const request of input.requests) {
    const policy = input.policies[request.role]
    if (!policy) throw new Error(`no policy for role ${request.role}`)
    const simulation = {
      identityPolicies: [{ name: request.role, policy }],
      serviceControlPolicies: [],
      resourceControlPolicies: [],
      request: {
        action: request.action,
        principal: `arn:aws:iam::${ACCOUNT}:role/charts-${request.role}`,
        resource: { accountId: ACCOUNT, resource: request.resource },
        contextVariables: request.context || {}
      }
    }
    const response = await runSimulation(simulation, {})
    if (response.resultType === 'error') {
      answers.push({ decision: 'Error', errors: response.errors })
    } else {
      answers.push({ decision: response.overallResult, errors: null })
    }
  }
  process.stdout.write(JSON.stringify(answers))
}

main().catch((err) => {
  process.stderr.write(`simulate.cjs: ${err.stack || err}\n`)
  process.exit(2)
})

import { configDefaults, defineConfig } from 'vitest/config'

const INCLUDE = ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts']

// Files that time what they measure against bounds (fairness, latency over a simulated WAN,
// deadlines, RSS), or hold a resource of the whole machine (Docker's base image, network
// namespaces with their forwarders). They run one at a time, after the rest, with the machine
// to themselves.
const ALONE = [
  'tests/e2e/scale.test.ts',
  'tests/e2e/routing.test.ts',
  'tests/e2e/routing-churn.test.ts',
  'tests/e2e/mesh.test.ts',
  'tests/e2e/portal-mesh.test.ts',
  'tests/e2e/agent-memory.test.ts',
  'tests/e2e/startup-trace.test.ts',
  'tests/e2e/sandbox-hostile.test.ts',
  'tests/e2e/ledger-relay.test.ts',
  'tests/e2e/wan-*.test.ts',
  'tests/e2e/deploy/**/*.test.ts',
  'packages/sandbox/test/hostile.test.ts',
  'packages/sandbox/test/run.test.ts',
  'packages/agent/test/routing/task-client.test.ts',
  'packages/agent/test/tasks/code-loop-model.test.ts',
]

export default defineConfig({
  test: {
    testTimeout: 60_000,
    hookTimeout: 60_000,
    projects: [
      {
        // Everything else runs two files at a time: most of a process-level test is waiting on
        // agents, and on two cores a second file fills that time. Each test still has to pass
        // on a loaded machine.
        extends: true,
        test: {
          name: 'shared',
          include: INCLUDE,
          exclude: [...configDefaults.exclude, ...ALONE],
          maxWorkers: 2,
          sequence: { groupOrder: 0 },
        },
      },
      {
        extends: true,
        test: { name: 'alone', include: ALONE, maxWorkers: 1, sequence: { groupOrder: 1 } },
      },
    ],
  },
})

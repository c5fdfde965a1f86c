import { defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['packages/*/test/**/*.test.ts', 'tests/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 60_000,
    // Process-level tests start real agents and time what they do: on two cores, two files of
    // them side by side measure each other's load. Files run one at a time.
    fileParallelism: false,
  },
})

import { defineConfig } from 'vitest/config'

// The installed desktop app in a live mesh: run by scripts/desktop-ci.sh once the .deb is
// installed and the app runs under Xvfb, never by the main suite (it needs that app).
export default defineConfig({
  test: {
    include: ['tests/desktop/*.check.ts'],
    testTimeout: 120_000,
    hookTimeout: 120_000,
    fileParallelism: false,
  },
})

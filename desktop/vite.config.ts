import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig } from 'vitest/config'

// A relative base: the same build is loaded by Tauri and served by the agent under /ui.
export default defineConfig({
  base: './',
  plugins: [svelte()],
  clearScreen: false,
  server: { host: '127.0.0.1', port: 1420, strictPort: true },
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
  test: {
    include: ['src/**/*.test.ts', 'test/**/*.test.ts'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // The UI tests start meshes of real agents: side by side on two cores they starve each other.
    fileParallelism: false,
  },
})

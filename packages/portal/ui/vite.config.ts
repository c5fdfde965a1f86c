import { fileURLToPath } from 'node:url'
import { svelte } from '@sveltejs/vite-plugin-svelte'
import { defineConfig } from 'vite'

const root = fileURLToPath(new URL('.', import.meta.url))

// Served by the portal at `/`, same origin as its API: no CORS, cookies stay SameSite=Strict.
export default defineConfig({
  root,
  base: '/',
  plugins: [svelte({ compilerOptions: { runes: true } })],
  clearScreen: false,
  logLevel: 'warn',
  build: { target: 'es2022', outDir: 'dist', emptyOutDir: true },
})

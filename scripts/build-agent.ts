/**
 * Builds the agent that `bin/edgecoder` runs: one minified ES module,
 * `packages/agent/dist/edgecoder.js`, holding the agent, its workspace packages and their npm
 * dependencies. Loading it costs the agent far less memory than Node stripping types from ~200
 * TypeScript files and loading ~1600 modules (bench/RESULTS.md, "Agent start-up"); the tests keep
 * running the TypeScript sources.
 *
 * Run: node scripts/build-agent.ts (setup.sh runs it when a source is newer than the bundle).
 */
import { readFileSync, renameSync, writeFileSync } from 'node:fs'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { build, type Plugin } from 'rolldown'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const OUT_DIR = join(ROOT, 'packages/agent/dist')
export const BUNDLE = join(OUT_DIR, 'edgecoder.js')

/**
 * Loaded from node_modules at run time: native code or wasm with files beside it (llama.cpp,
 * the sandbox's interpreters, which run in the sandbox process anyway) and the portal, which only
 * `edgecoder portal` loads.
 */
const EXTERNAL = [
  /^node-llama-cpp(\/|$)/,
  /^@node-llama-cpp\//,
  /^pyodide(\/|$)/,
  /^quickjs-emscripten/,
  /^@edgecoder\/portal$/,
]

/** A file's path relative to the bundle, so that a checkout moved elsewhere still works. */
function relativeTo(file: string): string {
  return JSON.stringify(relative(OUT_DIR, file).split(sep).join('/'))
}

/**
 * Code that finds files next to itself (`new URL('../package.json', import.meta.url)`, the
 * sandbox's host entry, a CommonJS `__dirname`) keeps finding them where the module came from.
 */
function keepFileLocations(): Plugin {
  return {
    name: 'edgecoder-keep-file-locations',
    transform(code, id) {
      if (!id.startsWith('/') || id.includes('\0')) return null
      let out = code
      if (out.includes('import.meta.')) {
        out = out
          .replace(/\bimport\.meta\.url\b/g, `__edgecoderUrl(${relativeTo(id)})`)
          .replace(/\bimport\.meta\.filename\b/g, `__edgecoderPath(${relativeTo(id)})`)
          .replace(/\bimport\.meta\.dirname\b/g, `__edgecoderPath(${relativeTo(dirname(id))})`)
      }
      const usesDir = /\b__(dirname|filename)\b/.test(out)
      if (usesDir && !/\b(var|let|const)\s+__(dirname|filename)\b/.test(out)) {
        out = `var __filename = __edgecoderPath(${relativeTo(id)}), __dirname = __edgecoderPath(${relativeTo(dirname(id))});\n${out}`
      }
      return out === code ? null : { code: out }
    },
  }
}

const BANNER = [
  "import { fileURLToPath as __edgecoderFileURLToPath } from 'node:url';",
  'const __edgecoderUrl = (rel) => new URL(rel, import.meta.url).href;',
  'const __edgecoderPath = (rel) => __edgecoderFileURLToPath(new URL(rel, import.meta.url));',
].join('\n')

const NON_ASCII = /[\u{80}-\u{10ffff}]/u

/**
 * Node keeps a large module source outside the heap, as Latin-1 when it is all ASCII and as
 * UTF-16 otherwise: one `ä` doubles the bundle's 3 MB. `charset: 'ascii'` escapes code; what it
 * leaves (licence comments) is escaped here, where it is only text.
 */
function asciiOnly(file: string): void {
  const text = readFileSync(file, 'utf8')
  const escapeText = (c: string): string =>
    c.replace(new RegExp(NON_ASCII, 'gu'), (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`)
  const out = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, escapeText)
  if (NON_ASCII.test(out)) console.warn('build-agent: non-ASCII text left in the bundle (it costs memory)')
  writeFileSync(file, out)
}

export async function buildAgent(): Promise<void> {
  const tmp = `${BUNDLE}.${process.pid}.tmp`
  await build({
    input: join(ROOT, 'packages/agent/src/cli/main.ts'),
    platform: 'node',
    external: EXTERNAL,
    plugins: [keepFileLocations()],
    logLevel: 'warn',
    output: {
      file: tmp,
      format: 'esm',
      codeSplitting: false,
      // Names kept: errors are told apart by `name`, and stack traces stay readable.
      minify: { compress: true, mangle: { keepNames: true } },
      keepNames: true,
      banner: BANNER,
      charset: 'ascii',
    },
  })
  asciiOnly(tmp)
  // Agents starting at once may build together: each one swaps in a complete file.
  renameSync(tmp, BUNDLE)
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildAgent()

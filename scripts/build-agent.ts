/**
 * Builds the agent that `bin/edgecoder` runs: one minified ES module,
 * `packages/agent/dist/edgecoder.js`, holding the agent, its workspace packages and their npm
 * dependencies. Loading it costs the agent far less memory than Node stripping types from ~200
 * TypeScript files and loading ~1600 modules (bench/RESULTS.md, "Agent start-up"); the tests keep
 * running the TypeScript sources.
 *
 * Run: node scripts/build-agent.ts (setup.sh runs it when a source is newer than the bundle).
 */
import { mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { dirname, join, relative, sep } from 'node:path'
import { fileURLToPath } from 'node:url'
import { type Plugin, rolldown } from 'rolldown'

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

/**
 * `@fastify/swagger` loads a YAML writer at start for `swagger({ yaml: true })`, which the agent
 * never asks for (it serves `/openapi.json`): the bundle gets a stand-in that says so if called,
 * instead of 225 KB of parser every node would load and keep.
 */
function noYamlInApi(): Plugin {
  const id = '\0edgecoder-no-yaml'
  return {
    name: 'edgecoder-no-yaml',
    resolveId(source, importer) {
      return source === 'yaml' && importer?.includes('/@fastify/swagger/') ? id : null
    },
    load(loaded) {
      if (loaded !== id) return null
      const refuse = "() => { throw new Error('the agent serves its OpenAPI document as JSON only') }"
      return `module.exports = { stringify: ${refuse}, parse: ${refuse} }`
    },
  }
}

/**
 * kad-dht's routing-table refresh looks up, for each 16-bit prefix, a 32-bit number whose hash
 * starts with it: 65,536 entries shipped as a JavaScript array literal (480 KB of source, then the
 * array and its literal's copy, about 1.5 MB of a node's heap for good). The same table goes into
 * the bundle as base64 text, decoded into a Uint32Array the first time a refresh reads it.
 */
function compactPrefixList(): Plugin {
  return {
    name: 'edgecoder-compact-prefix-list',
    load(id) {
      if (!id.endsWith('/@libp2p/kad-dht/dist/src/routing-table/generated-prefix-list.js')) return null
      const text = readFileSync(id, 'utf8')
      const list = (/\[([\s\S]*)\]/.exec(text)?.[1] ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map(Number)
      if (list.length !== 65536 || list.some((n) => !Number.isInteger(n) || n < 0 || n > 0xffffffff))
        throw new Error(
          `build-agent: kad-dht's prefix list is not the 65,536 numbers expected (${list.length})`,
        )
      const base64 = Buffer.from(new Uint32Array(list).buffer).toString('base64')
      return [
        `const text = ${JSON.stringify(base64)};`,
        'let table;',
        'const decode = (b) => new Uint32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.length));',
        'const get = (i) => (table ??= decode(Buffer.from(text, "base64")))[i];',
        'export default new Proxy([], { get: (t, k) => (typeof k === "string" && /^\\d+$/.test(k) ? get(Number(k)) : k === "length" ? 65536 : Reflect.get(t, k)) });',
      ].join('\n')
    },
  }
}

/**
 * Noise's default crypto instantiates two WebAssembly modules (ChaCha20-Poly1305 and SHA-256) as
 * soon as it is imported, about 11 MB of an idle agent. The agent hands Noise its own node:crypto
 * implementation (packages/agent/src/mesh/noise-crypto.ts), so the bundle gets stand-ins that
 * instantiate nothing and fail loudly if anything ever calls them.
 */
function noWasmNoiseCrypto(): Plugin {
  const stubs: Record<string, string> = {
    '@chainsafe/as-chacha20poly1305': [
      'const unused = () => { throw new Error("noise: the WebAssembly ChaCha20-Poly1305 is not in this build") };',
      'export const newInstance = () => null;',
      'export class ChaCha20Poly1305 { seal() { unused() } open() { unused() } }',
    ].join('\n'),
    '@chainsafe/as-sha256': [
      'export const digest = () => { throw new Error("noise: the WebAssembly SHA-256 is not in this build") };',
    ].join('\n'),
  }
  return {
    name: 'edgecoder-no-wasm-noise-crypto',
    resolveId(source, importer) {
      return source in stubs && importer?.includes('/@chainsafe/libp2p-noise/')
        ? `\0edgecoder-stub:${source}`
        : null
    },
    load(id) {
      return id.startsWith('\0edgecoder-stub:') ? stubs[id.slice('\0edgecoder-stub:'.length)]! : null
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
function asciiOnly(text: string): string {
  const escapeText = (c: string): string =>
    c.replace(new RegExp(NON_ASCII, 'gu'), (ch) => `\\u{${ch.codePointAt(0)!.toString(16)}}`)
  const out = text.replace(/\/\*[\s\S]*?\*\/|\/\/[^\n]*/g, escapeText)
  if (NON_ASCII.test(out)) console.warn('build-agent: non-ASCII text left in the bundle (it costs memory)')
  return out
}

/**
 * `import ... from "node:http"` makes Node build the builtin's ES module facade, which reads every
 * export, lazy ones included: for `node:http` that loads the whole fetch implementation (its
 * `WebSocket` export), `node:process` opens stdin, `node:crypto` sets up WebCrypto. An idle agent
 * paid about 13 MB for exports it never uses. `process.getBuiltinModule` hands back the CommonJS
 * exports, and destructuring reads only the names the bundle imports.
 */
const IMPORT_STATEMENT =
  /(?<=^|[;\n])import\s*(?:(?:([\w$]+)\s*,?\s*)?(?:\{([^}]*)\}|\*\s*as\s+([\w$]+))?\s*from\s*)?"([^"]+)";?/g

const isBuiltin = (id: string): boolean => id.startsWith('node:') || builtinModules.includes(id)

export function importBuiltinsLazily(code: string): string {
  let n = 0
  const out = code.replace(
    IMPORT_STATEMENT,
    (all, def?: string, named?: string, ns?: string, id?: string) => {
      if (!isBuiltin(id!)) return all
      const local = def ?? ns ?? `__edgecoderBuiltin${n++}`
      const names = (named ?? '')
        .split(',')
        .map((x) => x.trim())
        .filter(Boolean)
        .map((x) => x.replace(/^([\w$]+)\s+as\s+([\w$]+)$/, '$1: $2'))
      const pick = names.length ? `,{${names.join(',')}}=${local}` : ''
      return `const ${local}=process.getBuiltinModule(${JSON.stringify(id)})${pick};`
    },
  )
  const left = [...out.matchAll(IMPORT_STATEMENT)].filter((m) => isBuiltin(m[4]!))
  if (left.length) throw new Error(`build-agent: builtin imports left: ${left.map((m) => m[0]).join(' ')}`)
  return out
}

/**
 * Written in pieces: the entry `edgecoder.js` and content-named chunks for what is imported
 * dynamically (the node for `start`, the code loop's parsers, ...), so a command loads only its own
 * code and an idle node keeps less source and fewer compiled functions.
 */
export async function buildAgent(): Promise<void> {
  const bundle = await rolldown({
    input: join(ROOT, 'packages/agent/src/cli/main.ts'),
    platform: 'node',
    external: EXTERNAL,
    plugins: [keepFileLocations(), noYamlInApi(), compactPrefixList(), noWasmNoiseCrypto()],
    logLevel: 'warn',
  })
  const { output } = await bundle.generate({
    format: 'esm',
    entryFileNames: 'edgecoder.js',
    chunkFileNames: 'chunk-[hash].js',
    // Names kept: errors are told apart by `name`, and stack traces stay readable.
    minify: { compress: true, mangle: { keepNames: true } },
    keepNames: true,
    banner: BANNER,
    charset: 'ascii',
  })
  await bundle.close()
  mkdirSync(OUT_DIR, { recursive: true })
  const written = new Set<string>()
  // Chunks first, the entry last: agents starting at once may build together, and each swaps in
  // complete files; a chunk's name is its content's hash, so two builds agree on it.
  const files = output.filter((o) => o.type === 'chunk').sort((a, b) => Number(a.isEntry) - Number(b.isEntry))
  for (const chunk of files) {
    const tmp = join(OUT_DIR, `${chunk.fileName}.${process.pid}.tmp`)
    writeFileSync(tmp, asciiOnly(importBuiltinsLazily(chunk.code)))
    renameSync(tmp, join(OUT_DIR, chunk.fileName))
    written.add(chunk.fileName)
  }
  // Chunks of earlier builds go, unless a build just now may still be loading them.
  for (const f of readdirSync(OUT_DIR)) {
    const path = join(OUT_DIR, f)
    if (f.startsWith('chunk-') && !written.has(f) && Date.now() - statSync(path).mtimeMs > 600_000)
      rmSync(path)
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await buildAgent()

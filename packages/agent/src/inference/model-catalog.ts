/**
 * Small models a node can pull by name (`edgecoder models pull qwen2.5-coder:1.5b`): each name
 * resolves to one GGUF file on a model hub, checked against its size and sha256 as it arrives.
 * A pull stores the file as the name with its tag joined by `-` (`qwen2.5-coder-1.5b`), which is
 * also what `name:tag` finds in the Ollama and OpenAI dialects.
 */
export interface CatalogEntry {
  /** `family:tag`, as Ollama's library names the same model. */
  name: string
  description: string
  parameters: string
  quantization: string
  /** Where the file lies on the hub: `<repo>/resolve/<revision>/<file>`. */
  repo: string
  revision: string
  file: string
  sizeBytes: number
  sha256: string
}

/** The hub pulls go to unless `--model-hub` names another (a mirror, or a test's stand-in). */
export const DEFAULT_MODEL_HUB = 'https://huggingface.co'

/** The model a node with none is told to pull: small enough for a laptop, good enough to code. */
export const SUGGESTED_MODEL = 'qwen2.5-coder:1.5b'

// Sizes and sha256 values are the files' Git LFS objects. For the Qwen files they are the ones
// several public projects pin for Qwen/Qwen2.5-Coder-{0.5B,1.5B}-Instruct-GGUF after verifying
// the download, and agree with each other. The test model's are those scripts/fetch-model.sh
// checks for the same file; its hub location is where public projects point for that file name,
// but the hub copy was not checked against these values here (a different file is refused).
const ENTRIES: readonly CatalogEntry[] = [
  {
    name: 'qwen2.5-coder:0.5b',
    description: 'Qwen2.5-Coder 0.5B Instruct: the smallest coder, for autocomplete on any machine',
    parameters: '0.5B',
    quantization: 'Q4_K_M',
    repo: 'Qwen/Qwen2.5-Coder-0.5B-Instruct-GGUF',
    revision: 'main',
    file: 'qwen2.5-coder-0.5b-instruct-q4_k_m.gguf',
    sizeBytes: 491_400_064,
    sha256: '1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32',
  },
  {
    name: 'qwen2.5-coder:1.5b',
    description: 'Qwen2.5-Coder 1.5B Instruct: chat, edits and tool calls on a laptop CPU',
    parameters: '1.5B',
    quantization: 'Q4_K_M',
    repo: 'Qwen/Qwen2.5-Coder-1.5B-Instruct-GGUF',
    revision: 'main',
    file: 'qwen2.5-coder-1.5b-instruct-q4_k_m.gguf',
    sizeBytes: 1_117_320_768,
    sha256: 'cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046',
  },
  {
    name: 'gemma3:270m',
    description: 'Gemma 3 270M: a tiny general model, the one the test suite runs',
    parameters: '270M',
    quantization: 'Q4_K_M',
    repo: 'ggml-org/gemma-3-270m-GGUF',
    revision: 'main',
    file: 'gemma-3-270m-Q4_K_M.gguf',
    sizeBytes: 253_113_024,
    sha256: 'a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818',
  },
]

export const MODEL_CATALOG: readonly CatalogEntry[] = Object.freeze(ENTRIES.map((e) => Object.freeze(e)))

/** The catalog entry a name means (`qwen2.5-coder:1.5b` or its stored `qwen2.5-coder-1.5b`, any case). */
export function findCatalogEntry(name: string): CatalogEntry | undefined {
  const n = name.trim().toLowerCase()
  return MODEL_CATALOG.find((e) => e.name === n || catalogModelName(e) === n)
}

/** The file name (without `.gguf`) a catalog model is stored under. */
export function catalogModelName(entry: CatalogEntry): string {
  return entry.name.replace(':', '-')
}

/** The download URL of an entry on a hub (`https://huggingface.co` or one like it). */
export function catalogUrl(entry: CatalogEntry, hub: string): string {
  const base = hub.replace(/\/+$/, '')
  const path = [...entry.repo.split('/'), 'resolve', entry.revision, entry.file].map(encodeURIComponent)
  return `${base}/${path.join('/')}`
}

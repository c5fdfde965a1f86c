import { stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { ModelLoadError } from './errors.ts'
import { llamaModule } from './llama-module.ts'
import type { ModelInfo } from './types.ts'

/** The request name of a GGUF file: its file name without the extension. */
export function modelNameFromPath(path: string): string {
  return basename(path).replace(/\.gguf$/i, '')
}

/** `MOSTLY_Q4_K_M` -> `Q4_K_M`, `ALL_F32` -> `F32`; null for an absent or unknown file type. */
export function quantizationName(label: string | undefined): string | null {
  return label === undefined ? null : label.replace(/^(MOSTLY|ALL)_/, '')
}

// The vocabulary is most of a header (hundreds of thousands of strings) and nothing here needs it.
const SKIPPED_KEYS = [
  'tokenizer.ggml.tokens',
  'tokenizer.ggml.scores',
  'tokenizer.ggml.token_type',
  'tokenizer.ggml.merges',
]

// Kept while the file's size and mtime are unchanged, so listing stays cheap.
const cache = new Map<string, { key: string; info: ModelInfo }>()

/**
 * Reads a GGUF file's header into a {@link ModelInfo}.
 * @throws ModelLoadError when the file is missing or is not a readable GGUF file
 */
export async function readModelInfo(path: string): Promise<ModelInfo> {
  let key: string
  try {
    const st = await stat(path)
    if (!st.isFile()) throw new Error('not a regular file')
    key = `${st.size}:${st.mtimeMs}`
    const hit = cache.get(path)
    if (hit?.key === key) return hit.info
    const { GgufFileType, readGgufFileInfo } = await llamaModule()
    const gguf = await readGgufFileInfo(path, {
      readTensorInfo: false,
      sourceType: 'filesystem',
      ignoreKeys: SKIPPED_KEYS,
      logWarnings: false,
    })
    const general = gguf.metadata.general
    const arch = gguf.architectureMetadata as { context_length?: number }
    const info: ModelInfo = {
      name: modelNameFromPath(path),
      sizeBytes: st.size,
      family: general.architecture ?? null,
      parameters: general.size_label ?? null,
      quantization: quantizationName(
        general.file_type === undefined ? undefined : GgufFileType[general.file_type],
      ),
      contextLength: typeof arch.context_length === 'number' ? arch.context_length : null,
      path,
      basename: general.basename ?? null,
      fim: hasFimTokens(gguf.metadata.tokenizer?.ggml as Record<string, unknown> | undefined),
    }
    cache.set(path, { key, info })
    return info
  } catch (err) {
    throw new ModelLoadError(path, err)
  }
}

/** Fill-in-the-middle needs prefix, suffix and middle tokens; GGUF names them two ways. */
function hasFimTokens(ggml: Record<string, unknown> | undefined): boolean {
  if (ggml === undefined) return false
  const has = (...keys: string[]) => keys.some((k) => typeof ggml[k] === 'number')
  return (
    has('fim_pre_token_id', 'prefix_token_id') &&
    has('fim_suf_token_id', 'suffix_token_id') &&
    has('fim_mid_token_id', 'middle_token_id')
  )
}

